#!/usr/bin/env bash
# A clone of the repository must need nothing beside it: no tracked file may refer to the
# developers' ../shared folder, and the data the quick start and the tests read must be in
# data/. Usage: self_contained.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: self_contained.sh SOURCE_DIR}
cd "$src"
status=0
hits=$(grep -rIl --exclude-dir='build*' --exclude-dir=.git --exclude=self_contained.sh -e '\.\./shared' -e 'shared/data/' . || true)
if [ -n "$hits" ]; then
  echo "files refer to ../shared, which a user of the repository does not have:"
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
