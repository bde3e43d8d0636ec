"""Which static PEPs the server fires after a replica is written, and firing them.

Shared by the microservices here and the client layer (clients.py): both end in the same
server functions. Sources (irods/irods 4.3):
- server/api/src/rsDataObjClose.cpp apply_static_peps: acPostProcForCreate (opened by create),
  acPostProcForOpen (opened for read/write), acPostProcForRepl (replication destination); then
  acPostProcForCopy (copy destination) or acPostProcForPut (put, create, or write-open with
  bytes written).
- server/api/src/rsDataObjPut.cpp and rsDataObjRepl.cpp apply_static_peps: Create or Open,
  then acPostProcForPut always ("legacy behavior. Keep this here even though it is wrong").
- server/core/src/finalize_utilities.cpp apply_static_post_pep: rei with rsComm, doinp, the
  replica's doi and the operation status; its result is ignored (a failing static post-PEP does
  not fail the client's call).
"""

from omero_irods_sandbox.prep import irods_types, structs

# l1desc openType values, irods/irods lib/api/include/irods/dataObjInpOut.h
CREATE_TYPE = 1
OPEN_FOR_READ_TYPE = 2
OPEN_FOR_WRITE_TYPE = 3

# oprType values, same header
PUT_OPR = 1
REPLICATE_DEST = 7
COPY_DEST = 9
PHYMV_DEST = 17


def peps_at_close(open_type, opr_type=0, bytes_written=0):
    """Static PEP names rsDataObjClose fires, in order."""
    names = []
    if open_type == CREATE_TYPE:
        names.append("acPostProcForCreate")
    elif open_type in (OPEN_FOR_READ_TYPE, OPEN_FOR_WRITE_TYPE):
        names.append("acPostProcForOpen")
    elif opr_type == REPLICATE_DEST:
        names.append("acPostProcForRepl")
    if opr_type == COPY_DEST:
        names.append("acPostProcForCopy")
    elif (opr_type == PUT_OPR or open_type == CREATE_TYPE
          or (open_type == OPEN_FOR_WRITE_TYPE and bytes_written > 0)):
        names.append("acPostProcForPut")
    return names


def peps_after_put_or_replication(open_type):
    """Static PEP names rsDataObjPut / rsDataObjRepl fire (always ending in acPostProcForPut)."""
    names = []
    if open_type == CREATE_TYPE:
        names.append("acPostProcForCreate")
    elif open_type == OPEN_FOR_WRITE_TYPE:
        names.append("acPostProcForOpen")
    names.append("acPostProcForPut")
    return names


def fire(runtime, names, user, path, resource=None, opr_type=0, status=0, proxy_user=None):
    """Fire static post-PEPs as apply_static_post_pep does; returns their RuleResults.

    Results are returned for the record only: the server ignores them.
    """
    results = []
    for name in names:
        data_obj_inp = structs.fill(irods_types.DataObjInp(), objPath=path, oprType=opr_type)
        rei = runtime.make_rei(user, proxy_user=proxy_user, data_obj_inp=data_obj_inp,
                               data_obj_info=runtime.data_obj_info(path, resource))
        structs.fill(rei, status=status)
        results.append(runtime.invoke(name, [], rei, path=path, kind="static_pep"))
    return results
