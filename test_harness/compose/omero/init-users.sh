#!/bin/bash
# One-shot (compose service omero-init): the OMERO group and users the real-stack tests import
# for. Runs in the openmicroscopy/omero-server image, whose CLI lives in
# /opt/omero/server/venv3 (ome/omero-server-docker 60-database.sh). --ignore-existing makes
# a second run harmless (omero-py src/omero/plugins/user.py, group.py).
set -euo pipefail

omero=/opt/omero/server/venv3/bin/omero
server=${OMERO_HOST:-omero-server}
group=${OMERO_TEST_GROUP:-lab}

echo "omero-init: waiting for OMERO.server at ${server}"
"${omero}" login -C -s "${server}" -u root -w "${ROOTPASS}" -q --retry 300
"${omero}" group add --ignore-existing --type read-annotate "${group}"
for user in ${OMERO_TEST_USERS:-alice bob}; do
    "${omero}" user add --ignore-existing "${user}" "${user}" Tester "${group}" -P "${user}"
done
"${omero}" logout
echo "omero-init: group ${group} and users ${OMERO_TEST_USERS:-alice bob} ready"
