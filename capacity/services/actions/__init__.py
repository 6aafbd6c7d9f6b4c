"""Executing actions: the state machine every kind shares (state.py), right-sizing (resize.py, with the drivers
resize_ec2.py and resize_sagemaker.py), policy actions (policy.py, their AWS steps in policy_steps.py), the one entry
point for both (execute.py), the lost-worker lease sweeper (recovery.py), realised savings (savings.py) and how an
action names its resource (names.py).

Import from the owning module; these re-exports are the entry points the Celery tasks call.
"""

from capacity.services.actions.execute import action_execute
from capacity.services.actions.resize import actions_due
from capacity.services.actions.savings import actions_realised_savings_measure

__all__ = ["action_execute", "actions_due", "actions_realised_savings_measure"]
