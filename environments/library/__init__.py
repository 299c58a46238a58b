"""Public library circulation: returns with late fees, renewals, check-outs, holds and fines.

Verification kind: final database state restricted to the patron and the books involved (the
patron's loans, holds and fines, and the availability of those books), plus a computed amount
in the answer (the late fee charged, or at the top level the fines owed at the end).
Levels add a renewal, a borrow-or-hold conditional with a namesake title, a pay-if-over rule
with an other-edition decoy, and a follow-up renew-or-return request (multi-turn).
"""

from environments.library.family import LibraryFamily

__all__ = ["LibraryFamily"]
