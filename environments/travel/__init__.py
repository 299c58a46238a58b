"""Travel itineraries: trips through a country's cities under hotel, ticket, transport and
conditional budget rules, submitted as JSON with `submit_result`.

Verification kind: constraints. The verifier checks the submitted itinerary against the stated
rules (cities and nights in order, hotel stars/rating/price, attractions per day and no repeats,
tier-dependent ticket limits, legs that exist between consecutive cities, the budget that
depends on the hotel tier, the stated total equal to the real sum), never against the reference
itinerary: every itinerary that keeps the rules passes.
Levels: 1 a hotel in one city; 2 daily attractions, a ticket limit and a budget; 3 a trip from
a home city through two cities with a budget conditional on 5-star hotels and a near-miss
hotel; 4 a third city, tier-dependent ticket limits, an attraction rating floor and more decoys;
5 a return leg, a required attraction category and transport rules.
"""

from environments.travel.family import TravelFamily

__all__ = ["TravelFamily"]
