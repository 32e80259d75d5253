#!/bin/sh
# Starts one EC2 instance whose first boot runs a spillway worker that dials the
# frontend. Prints the instance id (the handle) and nothing else on stdout.
#
# Launch command of a `provider: command` instance type (README, "Workers and
# functions"); terminate command:
#   aws ec2 terminate-instances --instance-ids "$SW_HANDLE" --output text \
#       --query 'TerminatingInstances[0].CurrentState.Name'
# Assumes an AMI with spillway under /opt/spillway (binary and model), a subnet and
# security group from which the instance reaches SW_CONNECT, and instance type names
# that are EC2 type names; replace the three ids below. Written against the AWS CLI v2
# documentation and NOT run against AWS (no account was at hand): only its quoting was
# checked, with a stand-in for `aws` (the user data it writes passes `bash -n`). The
# frontend's role needs ec2:RunInstances, ec2:CreateTags, ec2:TerminateInstances. User
# data is readable on the instance; the token in it admits this one worker id only.
set -eu
userdata=$(mktemp)
trap 'rm -f "$userdata"' EXIT
# Unquoted EOF: the SW_* values are filled in now, on the frontend's machine.
cat >"$userdata" <<EOF
#!/bin/bash
# cloud-init runs this as root on first boot.
cat >/usr/local/bin/spillway-worker.sh <<'SCRIPT'
#!/bin/bash
/opt/spillway/bin/spillway worker --connect "\$SW_CONNECT" --type "\$SW_WORKER_TYPE" \\
    --model /opt/spillway/fashion-mlp.pb --threads 2 --id "ec2-\$SW_WORKER_ID" \\
    >>/var/log/spillway-worker.log 2>&1
# Exit 0 means the frontend sent Stop: power off, which terminates this instance
# (--instance-initiated-shutdown-behavior terminate).
if [ \$? -eq 0 ]; then shutdown -h now; fi
SCRIPT
chmod 755 /usr/local/bin/spillway-worker.sh
# A transient systemd unit, so cloud-init is not held up by a process that runs for hours.
systemd-run --unit=spillway-worker \\
    --setenv=SW_CONNECT='$SW_CONNECT' --setenv=SW_WORKER_TYPE='$SW_WORKER_TYPE' \\
    --setenv=SW_WORKER_ID='$SW_WORKER_ID' --setenv=SW_TOKEN='$SW_TOKEN' \\
    /usr/local/bin/spillway-worker.sh
EOF
aws ec2 run-instances \
    --image-id ami-0123456789abcdef0 \
    --instance-type "$SW_WORKER_TYPE" \
    --count 1 \
    --subnet-id subnet-0123456789abcdef0 \
    --security-group-ids sg-0123456789abcdef0 \
    --instance-initiated-shutdown-behavior terminate \
    --user-data "file://$userdata" \
    --tag-specifications "ResourceType=instance,Tags=[{Key=spillway-worker-id,Value=$SW_WORKER_ID}]" \
    --query 'Instances[0].InstanceId' \
    --output text
