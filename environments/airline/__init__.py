"""Airline reservations: flight changes with fare differences, bags, refund-rule cancellations.

Verification kind: final database state, checked against the user's constraints where they
allow several flights ("any direct flight on the 14th landing before 18:00"): the new flight
must satisfy them, then the expected database is rebuilt by replaying the reference's writes
with the agent's flight (and the cabin the user's rule gives for it) and compared.
Levels add a reservation named by route and date (a decoy booking) with extra bags, a departure
window with a cancelled decoy flight and a conditional downgrade, a cheapest-fare rule with a
follow-up refund-only cancellation (multi-turn), and a colleague's booking on the new flight.
"""

from environments.airline.family import AirlineFamily

__all__ = ["AirlineFamily"]
