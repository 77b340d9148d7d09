"""Comm.from_env on WEFT_RANK/WEFT_NRANKS/WEFT_COMM_ID, split, unique ids as
text, and the ABI mirror of weftConfig_t and the enums against weft.h."""
import os
import re
import socket

import numpy as np

import ranks
import weft


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _from_env(_comm, port):
    # a second communicator, from the environment, next to the one of ranks.run
    os.environ.update(WEFT_RANK=str(_comm.rank), WEFT_NRANKS=str(_comm.nranks),
                      WEFT_COMM_ID="127.0.0.1:%d" % port, WEFT_SECRET="0123456789abcdef" * 2)
    with weft.Comm.from_env(timeout_ms=10000) as c:
        x = np.array([c.rank + 1], np.int64)
        c.allreduce(x)
        # split: even and odd ranks, reversed by key
        sub = c.split(c.rank % 2, key=-c.rank)
        y = np.array([c.rank], np.int32)
        sub.allreduce(y, op=weft.max)
        info = (c.rank, c.nranks, int(x[0]), sub.rank, sub.nranks, int(y[0]))
        sub.destroy()
        none = c.split(None)
        return info + (none,)


def test_from_env_and_split():
    n = 3
    res = ranks.run(n, _from_env, _free_port())
    for r, (rank, size, total, subrank, subsize, submax, none) in enumerate(res):
        mates = [k for k in range(n) if k % 2 == r % 2]
        assert (rank, size, total) == (r, n, n * (n + 1) // 2)
        assert (subsize, submax) == (len(mates), max(mates))
        assert subrank == sorted(mates, reverse=True).index(r)
        assert none is None


def _hex_id(comm):
    uid = weft.get_unique_id()
    text = weft.unique_id_to_hex(uid)
    with weft.Comm(1, text, 0) as c:
        return (len(text), weft.unique_id_from_hex(text) == uid, c.nranks)


def test_unique_id_text():
    assert ranks.run(1, _hex_id) == [(256, True, 1)]


def _header():
    here = os.path.dirname(os.path.abspath(__file__))
    return open(os.path.join(here, "..", "..", "include", "weft.h")).read()


def test_config_mirror_matches_header():
    body = re.search(r"typedef struct \{((?:(?!typedef).)*)\} weftConfig_t;", _header(), re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    fields = re.findall(r"(\w+)\s*;", body)
    assert fields == [f for f, _ in weft._lib.Config._fields_]


def test_enums_match_header():
    h = _header()
    for enum_type, prefix, pyenum in (("weftDataType_t", "weft", weft.DataType),
                                      ("weftRedOp_t", "weft", weft.RedOp),
                                      ("weftResult_t", "weft", weft.Result)):
        body = re.search(r"typedef enum \{((?:(?!typedef).)*)\} %s;" % enum_type, h, re.S).group(1)
        values = {}
        for name, value in re.findall(r"(weft\w+)\s*=\s*(\d+)", body):
            values.setdefault(int(value), name)  # the first name of a value (not its alias)
        for v, name in values.items():
            if name.startswith("weftNum"):
                assert len(pyenum) == v
                continue
            member = pyenum(v).name
            assert name[len(prefix):].lower() == member.lower(), (name, member)
