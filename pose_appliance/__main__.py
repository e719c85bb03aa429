from pose_appliance.cli import program

program()
