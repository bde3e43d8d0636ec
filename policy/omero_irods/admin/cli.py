"""`omero-irods admin ...`: what an iRODS admin runs on a server or an admin host.

  validate-config [--config FILE] [--irods-env ENV]
                                           check the policy config and its user maps (and,
                                           with ENV, every mapped user and group in the zone)
  provision USER... [--zone Z] [--dry-run] create each mapped user's root, grant the service
                                           account, switch inheritance on (python-irodsclient,
                                           as a rodsadmin from --irods-env)
  install-rules [--etc DIR]                copy rules/omero_irods_rules.py (and an example
                                           core.py where there is none) into /etc/irods
  enable-rule-engine [--dry-run]           put the Python rule engine first in server_config.json
                                           (backup kept; unchanged when already right)
"""

import json
import sys

from omero_irods import names

ACTIONS = ("validate-config", "provision", "install-rules", "enable-rule-engine")


def add_arguments(parser, _name):
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    validate = actions.add_parser("validate-config", help="check the policy config and its user maps")
    _config_option(validate)
    validate.add_argument("--irods-env", help="irods_environment.json of an account of the zone: also check each "
                                              "mapped user and group there (python-irodsclient)")
    provision = actions.add_parser("provision", help="provision mapped users' collections (as a rodsadmin)")
    _config_option(provision)
    provision.add_argument("users", nargs="+", metavar="IRODS_USER", help="iRODS user names to provision")
    provision.add_argument("--zone", help="zone in the config (default: the config's only zone)")
    provision.add_argument("--irods-env", help="irods_environment.json of a rodsadmin (default: PRC's)")
    provision.add_argument("--dry-run", action="store_true", help="print the operations, change nothing")
    install = actions.add_parser("install-rules", help="copy the rule files into /etc/irods")
    install.add_argument("--etc", default="/etc/irods", help="the server's config folder (default /etc/irods)")
    install.add_argument("--rules", help="take the rule files from this folder")
    enable = actions.add_parser("enable-rule-engine",
                                help="put the Python rule engine first in server_config.json")
    enable.add_argument("--server-config", default="/etc/irods/server_config.json",
                        help="the server's config (default /etc/irods/server_config.json)")
    enable.add_argument("--stanzas", help="the rule engine fragment (default: the package's %s)"
                        % "server_config.rule_engine.json")
    enable.add_argument("--dry-run", action="store_true", help="print the change as a diff, write nothing")


def _config_option(parser):
    parser.add_argument(
        "--config",
        help="policy config (default: $%s, else %s)" % (names.CONFIG_PATH_ENV, names.CONFIG_PATH),
    )


class ProvisioningFailed(Exception):
    """An iRODS call of provisioning failed; the message says which and what was done."""


def run(args):
    from omero_irods.admin.server_config import ServerConfigError
    from omero_irods.client.credentials import CredentialsError
    from omero_irods.errors import ConfigError

    actions = {"validate-config": _validate, "provision": _provision, "install-rules": _install,
               "enable-rule-engine": _enable_rule_engine}
    try:
        return actions[args.action](args)
    except (ConfigError, CredentialsError, ProvisioningFailed, ServerConfigError, FileNotFoundError,
            PermissionError) as error:
        print("omero-irods admin %s: %s" % (args.action, error), file=sys.stderr)
        return 1


def _load(args):
    from omero_irods.config import config_path, read_config

    return read_config(args.config or config_path())


def _validate(args):
    config = _load(args)
    print("%s is valid." % config.path)
    for zone in config.zones.values():
        print("zone %s: service account %s, landing zone %s" % (zone.name, zone.service_account, zone.landing_zone))
        print("  placement %s (allowed roots: %s)" % (zone.placement_template, ", ".join(zone.allowed_roots)))
        print("  user map %s: %d users, %d groups" % (zone.user_map.path, len(zone.user_map.users), len(zone.user_map.groups)))
        print("  integrity marks: %s" % ("checked with the key in %s" % zone.integrity_key_file
                                         if zone.integrity_key_file else
                                         "NOT checked (no integrity_key_file): a landing co-writer can rewrite requests"))
    if args.irods_env:
        return _validate_in_zone(config, args.irods_env)
    return 0


def _validate_in_zone(config, env_file):
    """Each mapped user and group as the zone has them (mapping.zone_problems); 1 on a problem."""
    from irods.models import Group, User

    from omero_irods.adapters import prc
    from omero_irods.client.credentials import auth_file_for, load_environment
    from omero_irods.admin.prc_provisioner import landing_problems_in
    from omero_irods.mapping import zone_problems

    env_path, env = load_environment(env_file)
    session = prc.open_session(env_path, auth_file_for(env_path, env))
    try:
        zone = config.zone(session.zone)

        def user_info(name):
            where = (User.name == name, User.zone == session.zone)
            types = [row[User.type] for row in session.query(User.type).filter(*where)]
            if not types:
                return None
            groups = {row[Group.name] for row in session.query(Group.name).filter(*where)}
            return {"type": types[0], "groups": groups - {name}}

        try:
            problems = zone_problems(zone.user_map, zone.service_account, user_info)
            landing_problems = landing_problems_in(session, zone)
        except Exception as error:
            if not prc.is_irods_error(error):
                raise
            raise ProvisioningFailed("could not read users of zone %s: %s" % (session.zone, prc.describe(error)))
    finally:
        prc.close_session(session)
    for problem in problems + landing_problems:
        print("zone %s: %s" % (zone.name, problem), file=sys.stderr)
    print("zone %s: %s" % (zone.name, "%d problem(s) in the user map" % len(problems) if problems
                           else "every mapped user and group checked in the zone"))
    return 1 if problems or landing_problems else 0


def _provision(args):
    from omero_irods.provisioning import plan_user_provisioning, plan_zone_provisioning

    zone = _zone(_load(args), args.zone)
    operations = plan_zone_provisioning(zone)
    for user in args.users:
        operations += plan_user_provisioning(zone, user)
    if args.dry_run:
        for operation in operations:
            print(json.dumps(operation.to_json(), sort_keys=True))
        return 0
    apply = _prc_provisioner(args.irods_env)
    for done, operation in enumerate(operations):
        _apply_one(apply, operation, done, len(operations))
        print("done: %s" % json.dumps(operation.to_json(), sort_keys=True))
    problems = apply.landing_problems(zone)
    for problem in problems:
        print("zone %s: %s" % (zone.name, problem), file=sys.stderr)
    return 1 if problems else 0


def _apply_one(apply, operation, done, total):
    from omero_irods.adapters import prc

    try:
        apply(operation)
    except Exception as error:
        if not prc.is_irods_error(error):
            raise
        raise ProvisioningFailed(
            "%s failed: %s. %d of %d operations were done; once the cause is fixed, run the same "
            "command again (operations already done are repeated harmlessly)"
            % (json.dumps(operation.to_json(), sort_keys=True), prc.describe(error), done, total)) from error


def _zone(config, name):
    if name:
        return config.zone(name)
    if len(config.zones) != 1:
        raise FileNotFoundError("the config has zones %s: choose one with --zone" % ", ".join(sorted(config.zones)))
    return next(iter(config.zones.values()))


def _prc_provisioner(env_file):
    import contextlib

    from irods.session import iRODSSession

    from omero_irods.admin.prc_provisioner import PrcProvisioner
    from omero_irods.client.credentials import auth_file_for, load_environment

    env_path, env = load_environment(env_file)
    auth_path = auth_file_for(env_path, env)

    @contextlib.contextmanager
    def open_session(client_user=None):
        options = {"irods_env_file": env_path}
        if auth_path:
            options["irods_authentication_file"] = auth_path
        if client_user:
            options["client_user"] = client_user
        session = iRODSSession(**options)
        try:
            yield session
        finally:
            session.cleanup()

    return PrcProvisioner(open_session)


def _install(args):
    from omero_irods.admin.rules_files import install_rules

    for name, action in install_rules(args.etc, args.rules):
        print("%s/%s: %s" % (args.etc.rstrip("/"), name, action))
    print("Next: omero-irods admin enable-rule-engine (puts the Python rule engine first in server_config.json)")
    return 0


def _enable_rule_engine(args):
    from omero_irods.admin.server_config import enable_rule_engine, find_fragment

    changed, diff, backup = enable_rule_engine(args.server_config, find_fragment(args.stanzas), dry_run=args.dry_run)
    if not changed:
        print("%s: the rule engines are already in omero-irods' order; nothing changed" % args.server_config)
    elif args.dry_run:
        sys.stdout.write(diff)
        print("(dry run: %s not changed)" % args.server_config)
    else:
        sys.stdout.write(diff)
        print("%s updated; the previous file is %s. Restart the server (4.3) or send it SIGHUP (5.0)"
              % (args.server_config, backup))
    return 0
