"""Codat's webhooks, received: a verified receiver that stores every event once in a history.

``Receiver`` (``receiver``) is what ``codat-nb listen`` runs and what a notebook embeds;
``verify`` checks each message with ``svix`` as Codat says to, ``app`` answers (record first,
then answer), ``writer`` stores in batches, ``command`` runs ``--on-event``. The events
themselves, and reading them back, are the history's (``codat_nb.history.event_log``).
"""

from codat_nb.events.app import Counts
from codat_nb.events.command import CommandHook
from codat_nb.events.receiver import Receiver
from codat_nb.events.verify import Rejected, Verifier, check_secret
from codat_nb.history.event_log import Event

__all__ = ["CommandHook", "Counts", "Event", "Receiver", "Rejected", "Verifier", "check_secret"]
