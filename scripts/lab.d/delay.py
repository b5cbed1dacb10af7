#!/usr/bin/env python3
"""Delays every packet of a netfilter queue by a fixed time: a link's latency without sch_netem.

scripts/lab link starts one in a lab host's network namespace when the kernel has no netem (these
Firecracker kernels), with iptables sending what the host receives on eth0 to the queue:
    delay.py QUEUE MICROSECONDS
Each packet is held that long, then accepted. The delay is the same for every packet, so
packets leave in the order they came, and one batch verdict releases all that are due. It speaks
nfnetlink_queue over a raw netlink socket (the kernel's uapi, linux/netfilter/nfnetlink_queue.h),
so it needs nothing but Python's standard library. Lab tooling only: Ferry never runs it.
"""
import collections
import errno
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 4
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_ACCEPT = 1
# Packets a queue may hold: at 100 Mbit/s and 100 ms, about 850 full-sized ones.
QUEUE_MAXLEN = 20000


def attribute(kind, payload):
    head = struct.pack('=HH', 4 + len(payload), kind)
    return head + payload + b'\0' * (-len(payload) % 4)


class Queue:
    def __init__(self, number):
        self.number = number
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        # Lost notifications are harmless (a later batch verdict releases those packets too), so
        # the socket is told not to fail with ENOBUFS, and given room.
        self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)

    def message(self, kind, attributes, flags=0):
        self.seq += 1
        body = struct.pack('!BBH', socket.AF_UNSPEC, 0, self.number) + b''.join(attributes)
        head = struct.pack('=IHHII', 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, NLM_F_REQUEST | flags, self.seq, 0)
        return head + body

    def configure(self, attributes):
        self.sock.send(self.message(NFQNL_MSG_CONFIG, attributes, NLM_F_ACK))
        reply = self.sock.recv(65536)
        _, kind = struct.unpack_from('=IH', reply)
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from('=i', reply, 16)
            if code:
                raise OSError(-code, f'nfnetlink_queue config: {errno.errorcode.get(-code, code)}')

    def bind(self):
        self.configure([attribute(NFQA_CFG_CMD, struct.pack('!BBH', NFQNL_CFG_CMD_BIND, 0, socket.AF_INET))])
        # Only the packet's ID comes up, never its bytes; GSO packets stay whole.
        self.configure([attribute(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META))])
        self.configure([attribute(NFQA_CFG_QUEUE_MAXLEN, struct.pack('!I', QUEUE_MAXLEN))])
        self.configure([attribute(NFQA_CFG_FLAGS, struct.pack('!I', NFQA_CFG_F_GSO)), attribute(NFQA_CFG_MASK, struct.pack('!I', NFQA_CFG_F_GSO))])

    def packet_ids(self):
        """The IDs of the packets queued since the last call, in order; empty when none."""
        ids = []
        while True:
            try:
                data = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return ids
            at = 0
            while at + 16 <= len(data):
                length, kind = struct.unpack_from('=IH', data, at)
                if length < 16:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    attr = at + 20
                    while attr + 4 <= at + length:
                        size, code = struct.unpack_from('=HH', data, attr)
                        if size < 4:
                            break
                        if code & 0x7FFF == NFQA_PACKET_HDR:
                            ids.append(struct.unpack_from('!I', data, attr + 4)[0])
                        attr += (size + 3) & ~3
                at += (length + 3) & ~3

    def accept_through(self, packet_id):
        self.sock.send(self.message(NFQNL_MSG_VERDICT_BATCH, [attribute(NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT, packet_id))]))


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: delay.py QUEUE MICROSECONDS')
    queue = Queue(int(sys.argv[1]))
    delay = int(sys.argv[2]) / 1_000_000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    queue.bind()
    print(f'delay.py: queue {queue.number}, {delay * 1000:g} ms', flush=True)
    waiting = collections.deque()
    while True:
        timeout = max(0.0, waiting[0][0] - time.monotonic()) if waiting else None
        ready, _, _ = select.select([queue.sock], [], [], timeout)
        now = time.monotonic()
        if ready:
            for packet_id in queue.packet_ids():
                waiting.append((now + delay, packet_id))
        due = None
        while waiting and waiting[0][0] <= now:
            due = waiting.popleft()[1]
        if due is not None:
            queue.accept_through(due)


if __name__ == '__main__':
    main()
