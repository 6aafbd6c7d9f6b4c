"""Executing actions: the state machine every kind shares (state.py), right-sizing (resize.py, with the drivers
resize_ec2.py and resize_sagemaker.py), policy actions (policy.py, their AWS steps in policy_steps.py), the one entry
point for both (execute.py), the lost-worker lease sweeper (recovery.py), realised savings (savings.py) and how an
action names its resource (names.py).

Import from the owning module.
"""
