#!/usr/bin/env bash
# A clone of the repository must need nothing beside it: no tracked file may refer to the
# folder of shared material that sits beside the repository on the developers' machines,
# and the data the quick start and the tests read must be in data/. The folder's name is
# assembled below, so that this script does not refer to it either.
# Usage: self_contained.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: self_contained.sh SOURCE_DIR}
cd "$src"
status=0
beside="../$(printf 's%s' hared)"
hits=$(grep -rIlF --exclude-dir='build*' --exclude-dir=.git -e "$beside" -e "${beside#../}/data/" . || true)
if [ -n "$hits" ]; then
  echo "files refer to $beside, which a user of the repository does not have:"
  echo "$hits"
  status=1
fi
for f in data/traces/twitter-2021-08/twitter_day00_per_second.txt \
         data/traces/twitter-2021-08/twitter_per_minute_days00-14.csv \
         data/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv \
         data/sigv4/botocore-aws4_testsuite/LICENSE data/README.md; do
  [ -s "$f" ] || { echo "missing data file: $f"; status=1; }
done
exit $status
