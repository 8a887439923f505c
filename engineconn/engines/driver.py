# The python engine's driver: one interpreter per EngineConn, tasks run in
# one shared namespace so that variables survive between tasks.
# Requests arrive on fd 3 ("LENGTH\n" + JSON {"id", "code"}); frames go out on
# fd 4 ("KIND LENGTH\n" + payload). Tasks may call linkis_progress(p). fd 1 and 2 stay the process's own, so
# output written below Python (os.write, child processes) is still captured.
import fcntl, io, json, os, signal, sys, threading, traceback

# The protocol's pipes move to high fds that are closed on exec, and fds 3
# and 4 point at /dev/null: a process the user's code starts (os.system,
# subprocess) neither holds the pipes open nor writes into the protocol.
_req = os.fdopen(fcntl.fcntl(3, fcntl.F_DUPFD_CLOEXEC, 64), "rb")
_resp = os.fdopen(fcntl.fcntl(4, fcntl.F_DUPFD_CLOEXEC, 64), "wb", buffering=0)
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 3)
os.dup2(_null, 4)
os.close(_null)


# A frame carries at most _FRAME bytes of data (the engine refuses frames
# over 16 MiB and kills the interpreter): longer data goes in several.
_FRAME = 1 << 20
_INT = {signal.SIGINT}
_lock = threading.Lock()


def _send(kind, data=b"", tag=b""):
    """Send data as frames of kind, each payload starting with tag."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if isinstance(tag, str):
        tag = tag.encode()
    view = memoryview(data)
    step = _FRAME - len(tag)
    while True:
        _frame(kind, tag + bytes(view[:step]))
        view = view[step:]
        if not view:
            break


def _frame(kind, payload):
    buf = memoryview(b"%s %d\n" % (kind, len(payload)) + payload)
    # One frame at a time (threads), and no KeyboardInterrupt halfway
    # through one (the engine could not resynchronise): SIGINT waits until
    # the frame is written.
    with _lock:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _INT)
        try:
            while buf:
                n = _resp.write(buf)
                buf = buf[n:]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _Binary(io.RawIOBase):
    def __init__(self, kind):
        self._kind = kind

    def writable(self):
        return True

    def write(self, b):
        b = bytes(b)
        if b:
            _send(self._kind, b)
        return len(b)


class _Stream(io.TextIOBase):
    def __init__(self, kind, name):
        self._kind, self._name = kind, name
        self.buffer = _Binary(kind)

    @property
    def encoding(self):
        return "utf-8"

    @property
    def name(self):
        return self._name

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if s:
            _send(self._kind, s)
        return len(s)

    def isatty(self):
        return False


signal.signal(signal.SIGINT, signal.default_int_handler)
sys.stdin = open(os.devnull)
sys.stdout = _Stream(b"OUT", "<stdout>")
sys.stderr = _Stream(b"ERR", "<stderr>")
def linkis_progress(p):
    """Report how far the running task is, from 0 to 1."""
    _send(b"PRG", repr(float(p)))


_ns = {"__name__": "__main__", "__builtins__": __builtins__, "linkis_progress": linkis_progress}
_send(b"READY")
while True:
    try:
        line = _req.readline()
        if not line:
            break
        msg = json.loads(_req.read(int(line)))
        # EXC and END frames start with the task's sync token, so that the
        # engine drops any the task's own code forges.
        tag = (msg["sync"] + " ").encode()
        status = "OK"
        try:
            exec(compile(msg["code"], "<task %s>" % msg["id"], "exec"), _ns)
        except KeyboardInterrupt:
            status = "CANCEL"
            _send(b"EXC", "KeyboardInterrupt: the task was killed\n", tag)
        except SystemExit as e:
            status = "ERROR"
            _send(b"EXC", "SystemExit: %r (the interpreter keeps running)\n" % (e.code,), tag)
        except BaseException:
            status = "ERROR"
            et, ev, tb = sys.exc_info()
            _send(b"EXC", "".join(traceback.format_exception(et, ev, tb.tb_next)), tag)
        # Mark the end of this task's raw output on fd 1 and 2, so the
        # engine knows it has read everything written below Python.
        mark = b"\x00" + msg["sync"].encode() + b"\x00"
        for fd in (1, 2):
            try:
                os.write(fd, mark)
            except OSError:
                pass
        _send(b"END", status, tag)
    except KeyboardInterrupt:
        continue  # an interrupt that came after its task ended
