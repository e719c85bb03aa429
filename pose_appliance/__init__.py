"""pose-appliance: a Raspberry Pi camera appliance that shows a MoveNet skeleton and names the pose."""
