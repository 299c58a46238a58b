"""A team's shared drive: a virtual file tree (in the state, not on disk) to tidy up.

Verification kind: the final tree. The files under /finance and /archive and the trash's
contents are reduced to a normalized view (the family's outcome) and compared with the
reference's, so any order of operations (tag then move, move then tag, batch or one by one)
passes; folders are left out, so creating an unneeded empty folder is harmless. Some levels
also ask for a computed size. Levels add tagging, a size rule, a VOID-means-delete rule with
a total to report, and a follow-up clean-up of drafts (multi-turn); decoys are invoices of
other years, invoices modified in the right year but dated in another, and files tagged 'keep'.
"""

from environments.workspace.family import WorkspaceFamily

__all__ = ["WorkspaceFamily"]
