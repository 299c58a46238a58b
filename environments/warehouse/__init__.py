"""Warehouse inventory across 2-4 distribution centers: stock values, reorders and transfers.

Verification kind: a computed answer (the value of one category's stock in one warehouse, parsed
from free text with $ and commas to the cent; the SKU reordered, case-insensitive) plus the final
state wherever the task asks for writes (stock levels, purchase orders, adjustments).
Levels add a reorder of the SKU furthest below its reorder point, a conditional supplier rule
(cheapest vs fastest by order cost), a surplus transfer from another warehouse first, and a
damaged-stock write-off that changes the value to report.
"""

from environments.warehouse.family import WarehouseFamily

__all__ = ["WarehouseFamily"]
