"""Calendar scheduling for a small team: a meeting inside everyone's working hours, clear of
their other meetings, in a room that fits, under conditional equipment rules; then follow-up
changes (move it, add someone).

Verification kind: final state. Exactly one new meeting must exist and satisfy the request
(title, date, duration, attendees, working hours, no overlap for any attendee or the room,
capacity, conditional equipment, time window); every pre-existing meeting must be untouched
except the one the user asked to cancel. Any valid slot and room passes.
Levels: 1 attendees and a date; 2 a room that fits; 3 a projector rule when more than four
attend and a follow-up turn moving the meeting to the next day; 4 a time window, a namesake
invitee, a decoy room and a follow-up turn adding a person; 5 a cancellation first, a video rule
for remote attendees and a follow-up turn that moves the meeting and adds a person.
"""

from environments.calendar_scheduling.family import CalendarSchedulingFamily

__all__ = ["CalendarSchedulingFamily"]
