"""Online store: cancellations, returns, exchanges and address changes on a customer's orders.

Verification kind: final database state. The expected outcome (every order's status, items,
address and cancel reason, money moved per order and payment method, stock, gift-card
balances) is the reference's `outcome`; any call sequence reaching it passes.
Levels add an exchange with a price difference, a name+zip login with a namesake and a
conditional refund destination, an out-of-stock fallback with a follow-up turn (address
change), and a second follow-up request (cancel the other pending order).
"""

from environments.retail.family import RetailFamily

__all__ = ["RetailFamily"]
