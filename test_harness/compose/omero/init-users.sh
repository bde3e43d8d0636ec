#!/bin/bash
# One-shot (compose service omero-init): the OMERO side of the stack, set up as docs/deploy.md
# section 5a tells an admin.
# - the OMERO group and users the real-stack tests import for (--ignore-existing makes a second
#   run harmless: omero-py src/omero/plugins/user.py, group.py);
# - the importer's account: an administrator restricted to the Sudo privilege (every other
#   light-admin privilege set to false, ome/omero-documentation omero/sysadmins/cli/
#   light-admins.rst), checked by listing its restrictions;
# - its credentials file, for the irods container to install as /etc/irods/omero_importer.json
#   (irods/entrypoint.sh), in the volume mounted at /importer (root only, 0600).
# Runs in the openmicroscopy/omero-server image, whose CLI lives in /opt/omero/server/venv3
# (ome/omero-server-docker 60-database.sh).
set -euo pipefail

omero=/opt/omero/server/venv3/bin/omero
server=${OMERO_HOST:-omero-server}
group=${OMERO_TEST_GROUP:-lab}
importer=${OMERO_IMPORTER_USER:-omero-irods-importer}
# The 14 privileges of an OMERO 5.6 light admin other than Sudo (docs/deploy.md section 5a;
# ome/omero-server LightAdminPrivileges, the AdminPrivilege enumeration).
RESTRICTED="Chgrp Chown WriteOwned WriteFile WriteManagedRepo WriteScriptRepo DeleteOwned
DeleteFile DeleteManagedRepo DeleteScriptRepo ModifyGroup ModifyGroupMembership ModifyUser
ReadSession"

echo "omero-init: waiting for OMERO.server at ${server}"
"${omero}" login -C -s "${server}" -u root -w "${ROOTPASS}" -q --retry 300
"${omero}" group add --ignore-existing --type read-annotate "${group}"
for user in ${OMERO_TEST_USERS:-alice bob}; do
    "${omero}" user add --ignore-existing "${user}" "${user}" Tester "${group}" -P "${user}"
done

# The light admin: a member of `system`, default group `user` (omero-py user.py: --admin).
"${omero}" user add --ignore-existing "${importer}" OMERO-iRODS Importer --admin -P "${OMERO_IMPORTER_PASSWORD}"
importer_id=$("${omero}" hql --style plain --limit 1 \
    "SELECT e.id FROM Experimenter e WHERE e.omeName = '${importer}'" | awk -F, 'NR == 1 {print $NF}')
for privilege in ${RESTRICTED}; do
    "${omero}" obj map-set "Experimenter:${importer_id}" config "AdminPrivilege:${privilege}" false
done
restricted=$("${omero}" hql --style plain --limit 100 \
    "SELECT ap.name FROM Experimenter u JOIN u.config AS ap WHERE u.id = ${importer_id} AND ap.name LIKE 'AdminPrivilege:%' AND LOWER(ap.value) <> 'true' ORDER BY ap.name" | wc -l)
if [ "${restricted}" -ne 14 ]; then
    echo "omero-init: ${importer} has ${restricted} restricted privileges, not the 14 of a Sudo-only light admin" >&2
    exit 1
fi
"${omero}" logout

umask 077
printf '{"user": "%s", "password": "%s"}\n' "${importer}" "${OMERO_IMPORTER_PASSWORD}" > /importer/omero_importer.json.new
mv /importer/omero_importer.json.new /importer/omero_importer.json
echo "omero-init: group ${group}, users ${OMERO_TEST_USERS:-alice bob} and the Sudo-only light admin ${importer} ready"
