"""What the accounts app tells the apps above it (which listen; accounts imports none of them).

- `address_verified(user)`: the person just proved their current address. The workspace
  starts the owner reminders it held back until then.
"""

from django.dispatch import Signal

address_verified = Signal()
