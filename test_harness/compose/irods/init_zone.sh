#!/bin/bash
# First start only, as the iRODS service account (authenticated as the zone admin `rods` by
# setup_irods.py): the accounts and collections the real-stack tests use.
#   omero-svc  the OMERO side's ONE service account, a plain rodsuser (docs/deploy.md step 6)
#   alice, bob iRODS users that OMERO users map to (irods_config/user_map.example.json maps alice)
set -euo pipefail

zone=tempZone
svc=omero-svc
landing=/${zone}/home/${svc}/landing
config=/etc/irods/omero_irods.json
omero_irods=/opt/omero/server/venv3/bin/omero-irods

say() { echo "omero-irods init_zone: $*"; }

make_user() {  # name password
    iadmin mkuser "$1" rodsuser
    iadmin moduser "$1" password "$2"
}

make_user "${svc}" "${OMERO_SVC_PASSWORD:?set OMERO_SVC_PASSWORD}"
for user in alice bob; do
    make_user "${user}" "${user}"
done

# The landing zone belongs to the service account: it writes every request there.
imkdir -p "${landing}"
ichmod own "${svc}" "${landing}"

# Per-user provisioning (docs/deploy.md step 7): user root with `own` for the service account
# and inheritance, so the policy running as a plain rodsuser can place data and grant the user.
say "provisioning alice and bob with ${omero_irods} admin provision"
if ! "${omero_irods}" admin provision --config "${config}" alice bob; then
    say "'omero-irods admin provision' failed (see above); the zone is not provisioned"
    exit 1
fi
say "done"
