"""Workstation-side commands that still never import TensorFlow: `pisight deploy` (deploy.py,
with the device-side shell script and ssh/scp lines in remote.py) and `pisight flash`
(flash.py, with the cloud-init / firstrun.sh renderers in first_boot.py). May import
device.model (bundle checks) and the standard library; uses the system's ssh and scp.
"""
