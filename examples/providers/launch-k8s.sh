#!/bin/sh
# Creates one worker pod and the Secret holding its token. Prints the pod name (the
# handle) and nothing else on stdout.
#
# Launch command of a `provider: command` instance type (README, "Workers and
# functions"); terminate command (the pod's worker gets SIGTERM, drains and exits):
#   kubectl delete pod "$SW_HANDLE" --ignore-not-found --wait=false &&
#       kubectl delete secret "$SW_HANDLE" --ignore-not-found
# Assumes an image with spillway under /opt/spillway and an SW_CONNECT pods can reach.
# The token goes into a Secret, not the pod spec, so `kubectl get pod -o yaml` does not
# show it (--from-literal puts it on kubectl's command line for a moment: on a shared
# host create the Secret from a file). Written against the kubectl documentation and NOT
# run against a cluster: only its quoting and the manifest's YAML were checked.
set -eu
# A fresh name per launch: worker ids are not unique across frontend restarts.
name="spillway-w$SW_WORKER_ID-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
kubectl create secret generic "$name" --from-literal=token="$SW_TOKEN" >/dev/null
kubectl create -f - -o jsonpath='{.metadata.name}' <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels:
    app: spillway-worker
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 30
  containers:
    - name: worker
      image: registry.example.com/spillway:0.1.0
      command: ["/opt/spillway/bin/spillway"]
      args: ["worker", "--connect", "$SW_CONNECT", "--type", "$SW_WORKER_TYPE",
             "--model", "/opt/spillway/fashion-mlp.pb", "--threads", "2", "--id", "$name"]
      env:
        - name: SW_TOKEN
          valueFrom:
            secretKeyRef:
              name: $name
              key: token
      resources:
        requests: {cpu: "2", memory: 1Gi}
        limits: {cpu: "2", memory: 1Gi}
EOF
