"""omero-irods: the policy enforcement points and rules an iRODS admin deploys.

Copy this file into /etc/irods and import it from /etc/irods/core.py (see core.py
beside it). It reads like a table of contents: each entry point is one call into
`omero_irods.adapters.prep`, which turns the plugin's arguments into plain values for
the pure policy in the `omero_irods` package; the delayed and admin rules go through its
one table, `prep.RULES`, by the rule's name in `omero_irods.names`.

A put becomes an OMERO import like this:
  put event (one of the PEPs below) -> triggers: is it a payload in the landing zone?
  -> delayed rule omero_irods_process -> pipeline: claim, validate, map, place, ACL, AVUs
  -> delayed rule omero_irods_import  -> `omero import --transfer=ln_s` started detached
  -> delayed rule omero_irods_import_check (every few seconds) -> image ids as AVUs

Every put PEP returns RULE_ENGINE_CONTINUE, so other rule engines (core.re) still see
the event, and never fails the client's call for omero-irods' reasons. The guard PEPs are
the one exception, on purpose: they refuse to move or remove bytes OMERO links to.
"""

from omero_irods import names
from omero_irods.adapters import prep

__all__ = [
    "pep_api_data_obj_put_post",
    "pep_api_data_obj_open_pre",
    "pep_api_data_obj_close_pre",
    "pep_api_data_obj_close_post",
    "acPostProcForPut",
    "omero_irods_process",
    "omero_irods_import",
    "omero_irods_import_check",
    "omero_irods_watch",
    "omero_irods_sweep",
    "omero_irods_status",
    "omero_irods_list",
    "omero_irods_reprocess",
    "pep_api_data_obj_rename_pre",
    "pep_api_data_obj_unlink_pre",
    "pep_api_rm_coll_pre",
    "pep_api_data_obj_trim_pre",
    "pep_api_data_obj_phymv_pre",
    "pep_api_exec_my_rule_pre",
    "pep_api_exec_rule_expression_pre",
    "pep_api_data_obj_put_pre",
    "pep_api_data_obj_create_pre",
    "pep_api_data_obj_create_and_stat_pre",
    "pep_api_data_obj_open_and_stat_pre",
    "pep_api_replica_open_pre",
    "pep_api_data_obj_truncate_pre",
    "pep_api_replica_truncate_pre",
    "pep_api_data_obj_copy_pre",
    "pep_api_data_obj_rsync_pre",
    "pep_api_bulk_data_obj_put_pre",
    "pep_api_struct_file_ext_and_reg_pre",
    "pep_api_struct_file_bundle_pre",
]


# --- Put events: each client path ends in at least one of these ---------------------
# Sources: irods/irods server/api/src/rsDataObjPut.cpp, rsDataObjClose.cpp;
# python-irodsclient irods/manager/data_object_manager.py, irods/parallel.py.
# pep_api_replica_close_* (secondary streams of a parallel PRC upload) is deliberately
# not defined: the primary stream's data_obj_close and acPostProcForPut cover it, and an
# undefined rule costs the plugin nothing.


def pep_api_data_obj_put_post(rule_args, callback, rei):
    """iput: the DataObjInp names the path."""
    return prep.on_put_event(callback, rei, prep.put_input_path(rule_args), "pep_api_data_obj_put_post")


def pep_api_data_obj_open_pre(rule_args, callback, rei):
    """PRC open: a read costs a flag test; an open for writing notes a payload being written
    and is guarded (it may rewrite linked data: see the guard below)."""
    return prep.on_open(callback, rei, rule_args)


def pep_api_data_obj_close_pre(rule_args, callback, rei):
    """PRC open/write/close: remember which path this descriptor is writing."""
    return prep.remember_descriptor_path(callback, rule_args)


def pep_api_data_obj_close_post(rule_args, callback, rei):
    """PRC upload closed: its OpenedDataObjInp holds no path, so use the remembered one."""
    return prep.on_put_event(callback, rei, prep.recall_descriptor_path(rule_args), "pep_api_data_obj_close_post")


def acPostProcForPut(rule_args, callback, rei):
    """Every client's put (and, legacy, replication and phymv): path from session vars."""
    return prep.on_put_event(callback, rei, prep.session_object_path(rei), "acPostProcForPut")


# --- Delayed rules: scheduled above, run by the delay server as the service account --
# Any user can call a rule of core.py (the native rule language reaches it, so does a delay()
# of their own): each of these refuses to run for anyone but the service account.


def omero_irods_process(rule_args, callback, rei):
    """Claim, validate and place the request whose payload is rule_args[0]."""
    return prep.run_rule(names.RULE_PROCESS, rule_args, callback, rei)


def omero_irods_import(rule_args, callback, rei):
    """Start the OMERO in-place import of a placed request (record in rule_args[0]), detached."""
    return prep.run_rule(names.RULE_IMPORT, rule_args, callback, rei)


def omero_irods_import_check(rule_args, callback, rei):
    """Poll the running import of request rule_args[0] (attempt rule_args[1]); re-schedules
    itself until the importer ended, then records its result."""
    return prep.run_rule(names.RULE_IMPORT_CHECK, rule_args, callback, rei)


def omero_irods_watch(rule_args, callback, rei):
    """A failed request (rule_args[0]) waiting for a reprocess mark; re-schedules itself."""
    return prep.run_rule(names.RULE_WATCH, rule_args, callback, rei)


def omero_irods_sweep(rule_args, callback, rei):
    """The zone's safety net (landing zone in rule_args[0]): payloads nothing claimed, reprocess
    marks on requests whose rule was lost; re-schedules itself."""
    return prep.run_rule(names.RULE_SWEEP, rule_args, callback, rei)


# --- Admin rules, for irule ------------------------------------------------------------


def omero_irods_status(rule_args, callback, rei):
    """irule: the state, error and paths of request rule_args[0], as JSON."""
    return prep.run_rule(names.RULE_STATUS, rule_args, callback, rei)


def omero_irods_list(rule_args, callback, rei):
    """irule: the most recent requests (rule_args[0]: how many, default 20), as JSON."""
    return prep.run_rule(names.RULE_LIST, rule_args, callback, rei)


def omero_irods_reprocess(rule_args, callback, rei):
    """irule: mark a failed request (rule_args[0]) for another attempt, which its watcher
    queues as the service account; rejected ones stay rejected."""
    return prep.run_rule(names.RULE_REPROCESS, rule_args, callback, rei)


# --- Guard: data OMERO links to in place keeps its vault files -------------------------
# These pre-PEPs DO fail the client's call: after `omero import --transfer=ln_s`, OMERO holds
# symlinks to the vault files, which these APIs move or delete (omero_irods.guard says why
# and how the check stays cheap). Replication only adds a file and is not guarded.


def pep_api_data_obj_rename_pre(rule_args, callback, rei):
    """imv of an object or a collection: iRODS renames its vault files too."""
    return prep.guard_rename(callback, rei, rule_args)


def pep_api_data_obj_unlink_pre(rule_args, callback, rei):
    """irm [-f] and iunreg: the file is deleted, moved to the trash or left unmanaged."""
    return prep.guard_unlink(callback, rei, rule_args)


def pep_api_rm_coll_pre(rule_args, callback, rei):
    """irm -r: the same for everything below the collection."""
    return prep.guard_rm_coll(callback, rei, rule_args)


def pep_api_data_obj_trim_pre(rule_args, callback, rei):
    """itrim: deletes replicas' files, perhaps the one OMERO links to."""
    return prep.guard_trim(callback, rei, rule_args)


def pep_api_data_obj_phymv_pre(rule_args, callback, rei):
    """iphymv: moves a replica's file to another resource."""
    return prep.guard_phymv(callback, rei, rule_args)


# In-place rewrites of linked data: OMERO's symlink keeps pointing at the same vault file, whose
# bytes these APIs change (the open PEP above is one of them). Reads are never refused.
# irods/irods server/api/src: rsDataObjPut.cpp, rsDataObjCreate.cpp, rsDataObjOpenAndStat.cpp,
# rsDataObjCreateAndStat.cpp, rsDataObjTruncate.cpp, rs_replica_truncate.cpp, rsDataObjCopy.cpp,
# rsDataObjRsync.cpp, rsBulkDataObjPut.cpp, rsStructFileExtAndReg.cpp, rsStructFileBundle.cpp;
# plugins/api/src/replica_open.cpp (PEP names: lib/api/include/irods/apiTable.hpp).


def pep_api_data_obj_put_pre(rule_args, callback, rei):
    """iput -f: rewrites an existing object."""
    return prep.guard_put(callback, rei, rule_args)


def pep_api_data_obj_create_pre(rule_args, callback, rei):
    """PRC create and older clients: an existing object is truncated."""
    return prep.guard_create(callback, rei, rule_args)


def pep_api_data_obj_create_and_stat_pre(rule_args, callback, rei):
    """The same, answering a stat."""
    return prep.guard_create(callback, rei, rule_args)


def pep_api_data_obj_open_and_stat_pre(rule_args, callback, rei):
    """An open answering a stat: guarded when it may write."""
    return prep.on_open(callback, rei, rule_args)


def pep_api_replica_open_pre(rule_args, callback, rei):
    """Open of one replica (5.0 clients' streams): guarded when it may write."""
    return prep.on_open(callback, rei, rule_args)


def pep_api_data_obj_truncate_pre(rule_args, callback, rei):
    """PRC truncate: cuts every replica."""
    return prep.guard_truncate(callback, rei, rule_args)


def pep_api_replica_truncate_pre(rule_args, callback, rei):
    """PRC replica_truncate: cuts one replica."""
    return prep.guard_truncate(callback, rei, rule_args)


def pep_api_data_obj_copy_pre(rule_args, callback, rei):
    """icp -f: rewrites an existing destination."""
    return prep.guard_copy(callback, rei, rule_args)


def pep_api_data_obj_rsync_pre(rule_args, callback, rei):
    """irsync i:SRC i:DEST: the server copies onto DEST with force."""
    return prep.guard_rsync(callback, rei, rule_args)


def pep_api_bulk_data_obj_put_pre(rule_args, callback, rei):
    """iput -b -f: many files into a collection, with force."""
    return prep.guard_bulk_put(callback, rei, rule_args)


def pep_api_struct_file_ext_and_reg_pre(rule_args, callback, rei):
    """ibun -x -f: extracts over existing objects."""
    return prep.guard_extract_and_register(callback, rei, rule_args)


def pep_api_struct_file_bundle_pre(rule_args, callback, rei):
    """ibun -c -f: rewrites an existing bundle object."""
    return prep.guard_bundle(callback, rei, rule_args)


# --- The rule-text gate: the Python rule engine runs rule text as the iRODS OS user ---------
# A rodsuser's irule with a delay() naming the Python instance, or a packed
# EXEC_RULE_EXPRESSION_AN, would run Python unchecked (omero_irods.rule_gate): only admins may.


def pep_api_exec_my_rule_pre(rule_args, callback, rei):
    """irule: admins only."""
    return prep.gate_rule_text(callback, rei, "exec_my_rule")


def pep_api_exec_rule_expression_pre(rule_args, callback, rei):
    """What the delay server runs (as the zone's admin): admins only."""
    return prep.gate_rule_text(callback, rei, "exec_rule_expression")
