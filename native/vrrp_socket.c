/*
 * A raw IPv4 socket for one IP protocol (VRRP: 112), polled on Node's own event
 * loop. Linux only. N-API (NAPI_VERSION 8), so one build loads in every Node
 * release that has that API version.
 *
 * JS surface (wrapped by src/ha/vrrp/raw.ts, which adds hints to errors):
 *   open(protocol, ifname)        -> { handle, fd, ifindex }
 *   join(handle, group)           IP_ADD_MEMBERSHIP on the bound interface (idempotent)
 *   leave(handle, group)          IP_DROP_MEMBERSHIP (idempotent)
 *   recv(handle)                  -> { payload, src, dst, ttl, tos, ifindex, truncated } | null
 *                                    payload is the IP payload (the IPv4 header is parsed
 *                                    here: ttl/tos/src/dst come from it); null = nothing queued
 *   send(handle, payload, dst, src?) -> bytes sent; src sets the IPv4 source (IP_PKTINFO)
 *   poll(handle, callback)        callback(err?) on the loop thread whenever readable
 *   close(handle)                 stops polling, closes the fd (idempotent)
 *
 * And the few things a takeover does besides adverts, without spawning `ip` and
 * `arping` (each spawn costs milliseconds on the takeover path; keepalived uses
 * netlink and a packet socket too):
 *   addr(op, ifname, address, prefixlen) -> true when done, false when there was
 *                                    nothing to do (op "add": already there with that
 *                                    prefix, EEXIST; op "del": not there, EADDRNOTAVAIL)
 *                                    RTM_NEWADDR / RTM_DELADDR over NETLINK_ROUTE, acked
 *   hwaddr(ifname)                -> "aa:bb:cc:dd:ee:ff" (SIOCGIFHWADDR)
 *   frame(ifname, bytes)          sends one whole Ethernet frame (AF_PACKET), e.g. a
 *                                    gratuitous ARP; -> bytes sent
 *
 * And, for the connection counts of kernel (mode nat) services:
 *   conntrack(rows)               -> Promise<{ counts, entries, matched, malformed, elapsedMs,
 *                                    dumps, filtered, interrupted }>
 *                                    rows: Uint32Array of [protocol, vip, vport, server, sport]
 *                                    (addresses as host-order numbers); the conntrack table is
 *                                    dumped over ctnetlink on a libuv thread-pool thread (never
 *                                    on the event loop) and counted per row by TCP state in C:
 *                                    counts = 16 Uint32 per row, index = enum tcp_conntrack,
 *                                    15 = no TCP state (UDP). See "conntrack counts" below and
 *                                    src/proxy/kernel/conntrack.ts. A failed dump rejects with
 *                                    an errno error (EPERM without CAP_NET_ADMIN).
 *
 * Errors are JS errors with `code` (errno name, e.g. EPERM) and `syscall` set, and a
 * message naming the call that failed: "socket(AF_INET, SOCK_RAW, 112): EPERM
 * (Operation not permitted)".
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUFFER 65536

typedef struct {
  int fd;
  unsigned ifindex;
  napi_env env;
  uv_poll_t poll;
  int polling;       /* uv_poll_init done */
  int closed;        /* close requested */
  int handle_closed; /* no uv handle left to close (never polled, or uv_close done) */
  int finalized;     /* the JS external is gone */
  /* Registered from open until the socket is fully closed: when a worker thread ends,
   * Node runs the hook and waits for its removal before unloading this addon, so that
   * no uv_close callback is left pointing into unloaded code. */
  napi_async_cleanup_hook_handle cleanup;
  napi_ref self;     /* strong while polling: a polled socket is not garbage */
  napi_ref callback;
  napi_async_context async;
  unsigned char buf[RECV_BUFFER];
} vsock;

static const napi_type_tag VSOCK_TAG = {0x70616c6973616465ULL, 0x7672727073636b31ULL};

static const char *errno_name(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(e);
  if (n != NULL) return n;
#endif
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENETUNREACH: return "ENETUNREACH";
    case ENETDOWN: return "ENETDOWN";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAGAIN: return "EAGAIN";
    case ENOBUFS: return "ENOBUFS";
    default: return "EUNKNOWN";
  }
}

/* Throws Error(message) with .code and .syscall; returns NULL for the caller to return. */
static napi_value throw_with(napi_env env, const char *code, const char *syscall, const char *message) {
  napi_value c, m, s, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  if (syscall != NULL) {
    napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &s);
    napi_set_named_property(env, err, "syscall", s);
  }
  napi_throw(env, err);
  return NULL;
}

static napi_value throw_errno(napi_env env, int e, const char *syscall, const char *what) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, errno_name(e), strerror(e));
  return throw_with(env, errno_name(e), syscall, msg);
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* Reads up to `max` JS arguments; missing ones are undefined. */
static void args(napi_env env, napi_callback_info info, size_t max, napi_value *argv) {
  size_t argc = max;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < max; i++) argv[i] = undefined(env);
}

static vsock *get_sock(napi_env env, napi_value v) {
  bool ok = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, v, &VSOCK_TAG, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    throw_type(env, "expected a handle returned by open()");
    return NULL;
  }
  vsock *s = data;
  if (s->closed) {
    throw_with(env, "EBADF", NULL, "the VRRP socket is closed");
    return NULL;
  }
  return s;
}

/* Copies a JS string into buf; false (with a TypeError thrown) if not a string or too long. */
static bool get_string(napi_env env, napi_value v, char *buf, size_t size, const char *name) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string", name);
    throw_type(env, msg);
    return false;
  }
  if (len + 1 > size) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s is too long (%zu bytes, at most %zu)", name, len, size - 1);
    throw_type(env, msg);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  return true;
}

static bool get_ipv4(napi_env env, napi_value v, struct in_addr *out, const char *name) {
  char text[INET_ADDRSTRLEN + 8];
  if (!get_string(env, v, text, sizeof text, name)) return false;
  if (inet_pton(AF_INET, text, out) != 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an IPv4 address, got \"%s\"", name, text);
    throw_type(env, msg);
    return false;
  }
  return true;
}

static void release_js(vsock *s) {
  if (s->callback != NULL) napi_delete_reference(s->env, s->callback);
  if (s->self != NULL) napi_delete_reference(s->env, s->self);
  if (s->async != NULL) napi_async_destroy(s->env, s->async);
  s->callback = NULL;
  s->self = NULL;
  s->async = NULL;
}

/* The uv handle is gone (or there never was one): memory goes once the JS external is gone too. */
static void closed_fully(vsock *s) {
  s->handle_closed = 1;
  if (s->cleanup != NULL) {
    napi_remove_async_cleanup_hook(s->cleanup);
    s->cleanup = NULL;
  }
  if (s->finalized) free(s);
}

static void on_handle_closed(uv_handle_t *h) {
  closed_fully(h->data);
}

/* Stops polling and closes the fd at once; the memory waits for libuv's close callback. */
static void do_close(vsock *s) {
  if (s->closed) return;
  s->closed = 1;
  if (s->polling) {
    /* uv_poll_stop takes the fd out of epoll: closing it right after is safe */
    uv_poll_stop(&s->poll);
    close(s->fd);
    s->fd = -1;
    release_js(s);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  } else {
    close(s->fd);
    s->fd = -1;
    closed_fully(s);
  }
}

/* The environment (a worker thread) ends: close; Node waits until closed_fully removes the hook. */
static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *data) {
  vsock *s = data;
  s->cleanup = handle;
  do_close(s); /* if a close is already under way, its callback removes the hook */
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  vsock *s = data;
  s->finalized = 1;
  if (!s->closed) do_close(s); /* frees s now, or in the uv_close callback */
  else if (s->handle_closed) free(s);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  args(env, info, 2, argv);
  int32_t protocol = 0;
  if (napi_get_value_int32(env, argv[0], &protocol) != napi_ok || protocol < 1 || protocol > 255)
    return throw_type(env, "protocol must be an IP protocol number, 1-255");
  char ifname[IF_NAMESIZE];
  if (!get_string(env, argv[1], ifname, sizeof ifname, "interface name")) return NULL;

  char what[160];
  /* the interface first: a wrong name is reported the same with or without privileges */
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    snprintf(what, sizeof what, "if_nametoindex(\"%s\")", ifname);
    return throw_errno(env, errno, "if_nametoindex", what);
  }
  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    snprintf(what, sizeof what, "socket(AF_INET, SOCK_RAW, %d)", protocol);
    return throw_errno(env, errno, "socket", what);
  }

  int ttl = 255, tos = 0xc0, off = 0, on = 1;
  struct ip_mreqn mif;
  memset(&mif, 0, sizeof mif);
  mif.imr_ifindex = (int)ifindex;
  struct {
    int level, name;
    const void *value;
    socklen_t len;
    const char *what;
  } opts[] = {
      /* only what arrives on (and leaves by) this interface */
      {SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname), "setsockopt(SO_BINDTODEVICE)"},
      /* RFC 5798 §5.1.1.3: TTL 255, unicast and multicast alike */
      {IPPROTO_IP, IP_TTL, &ttl, sizeof ttl, "setsockopt(IP_TTL, 255)"},
      {IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl, "setsockopt(IP_MULTICAST_TTL, 255)"},
      /* DSCP CS6, as keepalived sends */
      {IPPROTO_IP, IP_TOS, &tos, sizeof tos, "setsockopt(IP_TOS, 0xc0)"},
      {IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof mif, "setsockopt(IP_MULTICAST_IF)"},
      /* our own adverts must not come back to us */
      {IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof off, "setsockopt(IP_MULTICAST_LOOP, 0)"},
      /* only groups this socket joined, not every group any socket on the host joined */
      {IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off, "setsockopt(IP_MULTICAST_ALL, 0)"},
      /* ingress interface of each packet */
      {IPPROTO_IP, IP_PKTINFO, &on, sizeof on, "setsockopt(IP_PKTINFO, 1)"},
  };
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    if (setsockopt(fd, opts[i].level, opts[i].name, opts[i].value, opts[i].len) < 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, e, "setsockopt", opts[i].what);
    }
  }

  vsock *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, NULL, "open: allocating the socket state");
  }
  s->fd = fd;
  s->ifindex = ifindex;
  s->env = env;
  napi_value handle, result, v;
  if (napi_create_external(env, s, finalize, NULL, &handle) != napi_ok) {
    close(fd);
    free(s);
    return NULL;
  }
  napi_type_tag_object(env, handle, &VSOCK_TAG);
  napi_add_async_cleanup_hook(env, on_env_teardown, s, &s->cleanup);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "handle", handle);
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, result, "fd", v);
  napi_create_uint32(env, ifindex, &v);
  napi_set_named_property(env, result, "ifindex", v);
  return result;
}

static napi_value membership(napi_env env, napi_callback_info info, int join) {
  napi_value argv[2];
  args(env, info, 2, argv);
  vsock *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  struct ip_mreqn m;
  memset(&m, 0, sizeof m);
  if (!get_ipv4(env, argv[1], &m.imr_multiaddr, "group")) return NULL;
  m.imr_ifindex = (int)s->ifindex;
  if (setsockopt(s->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m) < 0) {
    int e = errno;
    /* idempotent: already a member / not a member */
    if ((join && e == EADDRINUSE) || (!join && e == EADDRNOTAVAIL)) return undefined(env);
    char what[96], group[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &m.imr_multiaddr, group, sizeof group);
    snprintf(what, sizeof what, "setsockopt(%s, %s)", join ? "IP_ADD_MEMBERSHIP" : "IP_DROP_MEMBERSHIP", group);
    return throw_errno(env, e, "setsockopt", what);
  }
  return undefined(env);
}

static napi_value js_join(napi_env env, napi_callback_info info) { return membership(env, info, 1); }
static napi_value js_leave(napi_env env, napi_callback_info info) { return membership(env, info, 0); }

static void set_string(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_uint(napi_env env, napi_value obj, const char *name, uint32_t value) {
  napi_value v;
  napi_create_uint32(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static napi_value js_recv(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  args(env, info, 1, argv);
  vsock *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  for (;;) {
    struct iovec iov = {s->buf, sizeof s->buf};
    union {
      char bytes[CMSG_SPACE(sizeof(struct in_pktinfo))];
      struct cmsghdr align;
    } control;
    struct sockaddr_in from;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    ssize_t n = recvmsg(s->fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        napi_value null;
        napi_get_null(env, &null);
        return null;
      }
      return throw_errno(env, errno, "recvmsg", "recvmsg");
    }
    /* A raw IPv4 socket delivers the IPv4 header first. Skip what is too short to be one. */
    size_t len = (size_t)n < sizeof s->buf ? (size_t)n : sizeof s->buf;
    if (len < 20 || (s->buf[0] >> 4) != 4) continue;
    size_t ihl = (size_t)(s->buf[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len) continue;

    unsigned ifindex = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        ifindex = (unsigned)pi.ipi_ifindex;
      }
    }
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, s->buf + 12, src, sizeof src);
    inet_ntop(AF_INET, s->buf + 16, dst, sizeof dst);

    napi_value result, payload, truncated;
    napi_create_object(env, &result);
    napi_create_buffer_copy(env, len - ihl, s->buf + ihl, NULL, &payload);
    napi_set_named_property(env, result, "payload", payload);
    set_string(env, result, "src", src);
    set_string(env, result, "dst", dst);
    set_uint(env, result, "ttl", s->buf[8]);
    set_uint(env, result, "tos", s->buf[1]);
    set_uint(env, result, "ifindex", ifindex);
    napi_get_boolean(env, (msg.msg_flags & MSG_TRUNC) != 0, &truncated);
    napi_set_named_property(env, result, "truncated", truncated);
    return result;
  }
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  args(env, info, 4, argv);
  vsock *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;

  void *data = NULL;
  size_t length = 0;
  bool is_typed = false;
  napi_is_typedarray(env, argv[1], &is_typed);
  napi_typedarray_type type;
  if (!is_typed || napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array)
    return throw_type(env, "payload must be a Buffer or Uint8Array");

  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  if (!get_ipv4(env, argv[2], &to.sin_addr, "destination")) return NULL;

  union {
    char bytes[CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {data, length};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;

  napi_valuetype srctype;
  napi_typeof(env, argv[3], &srctype);
  char srctext[INET_ADDRSTRLEN] = "";
  if (srctype != napi_undefined && srctype != napi_null) {
    struct in_pktinfo pi;
    memset(&pi, 0, sizeof pi);
    if (!get_ipv4(env, argv[3], &pi.ipi_spec_dst, "source")) return NULL;
    inet_ntop(AF_INET, &pi.ipi_spec_dst, srctext, sizeof srctext);
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof pi);
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }

  ssize_t n;
  do n = sendmsg(s->fd, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    char what[160], dsttext[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &to.sin_addr, dsttext, sizeof dsttext);
    snprintf(what, sizeof what, "sendmsg(%zu bytes to %s%s%s)", length, dsttext, srctext[0] ? " from " : "", srctext);
    return throw_errno(env, e, "sendmsg", what);
  }
  napi_value result;
  napi_create_int64(env, (int64_t)n, &result);
  return result;
}

/* Runs on the loop thread when the fd is readable (or polling failed). */
static void on_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  vsock *s = p->data;
  if (s->closed || s->callback == NULL) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[1], result;
  size_t argc = 0;
  napi_get_reference_value(env, s->callback, &cb);
  napi_get_global(env, &recv);
  if (status < 0) {
    napi_value code, msg;
    char text[128];
    snprintf(text, sizeof text, "polling the VRRP socket: %s (%s)", uv_err_name(status), uv_strerror(status));
    napi_create_string_utf8(env, uv_err_name(status), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &argv[0]);
    argc = 1;
  }
  /* make_callback, not call_function: runs the microtask and nextTick queues afterwards */
  if (napi_make_callback(env, s->async, recv, cb, argc, argv, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_poll(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  args(env, info, 2, argv);
  vsock *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return throw_type(env, "callback must be a function");
  if (s->polling) return throw_with(env, "EALREADY", NULL, "the VRRP socket is already being polled");

  struct uv_loop_s *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_with(env, "EINVAL", NULL, "no event loop");
  int r = uv_poll_init(loop, &s->poll, s->fd);
  if (r < 0) {
    char text[128];
    snprintf(text, sizeof text, "uv_poll_init: %s (%s)", uv_err_name(r), uv_strerror(r));
    return throw_with(env, uv_err_name(r), "uv_poll_init", text);
  }
  s->poll.data = s;
  s->polling = 1;
  napi_value name;
  napi_create_string_utf8(env, "PalisadeVrrpSocket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &s->async);
  napi_create_reference(env, argv[1], 1, &s->callback);
  napi_create_reference(env, argv[0], 1, &s->self);
  r = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (r < 0) {
    char text[128];
    snprintf(text, sizeof text, "uv_poll_start: %s (%s)", uv_err_name(r), uv_strerror(r));
    return throw_with(env, uv_err_name(r), "uv_poll_start", text);
  }
  return undefined(env);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  args(env, info, 1, argv);
  bool ok = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, argv[0], &VSOCK_TAG, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, argv[0], &data) != napi_ok)
    return throw_type(env, "expected a handle returned by open()");
  vsock *s = data;
  do_close(s);
  return undefined(env);
}

/* ---- addresses over netlink ---- */

static napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

static napi_value js_addr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  args(env, info, 4, argv);
  char op[8], ifname[IF_NAMESIZE];
  struct in_addr addr;
  uint32_t prefixlen = 0;
  if (!get_string(env, argv[0], op, sizeof op, "op")) return NULL;
  bool add = strcmp(op, "add") == 0;
  if (!add && strcmp(op, "del") != 0) return throw_type(env, "op must be \"add\" or \"del\"");
  if (!get_string(env, argv[1], ifname, sizeof ifname, "ifname")) return NULL;
  if (!get_ipv4(env, argv[2], &addr, "address")) return NULL;
  if (napi_get_value_uint32(env, argv[3], &prefixlen) != napi_ok || prefixlen > 32) return throw_type(env, "prefixlen must be 0-32");
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    char what[64];
    snprintf(what, sizeof what, "if_nametoindex(%s)", ifname);
    return throw_errno(env, errno, "if_nametoindex", what);
  }
  struct {
    struct nlmsghdr nh;
    struct ifaddrmsg ifa;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
  req.nh.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  req.nh.nlmsg_seq = 1;
  req.ifa.ifa_family = AF_INET;
  req.ifa.ifa_prefixlen = (unsigned char)prefixlen;
  req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = ifindex;
  unsigned short types[2] = {IFA_LOCAL, IFA_ADDRESS};
  for (int i = 0; i < 2; i++) {
    struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = types[i];
    rta->rta_len = RTA_LENGTH(sizeof addr);
    memcpy(RTA_DATA(rta), &addr, sizeof addr);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, errno, "socket", "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)");
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  char what[96];
  snprintf(what, sizeof what, "netlink %s %s/%u dev %s", add ? "RTM_NEWADDR" : "RTM_DELADDR", inet_ntoa(addr), prefixlen, ifname);
  if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "sendto", what);
  }
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      close(fd);
      return throw_errno(env, e, "recv", what);
    }
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      int e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
      close(fd);
      if (e == 0) return make_bool(env, true);
      if ((add && e == EEXIST) || (!add && e == EADDRNOTAVAIL)) return make_bool(env, false);
      return throw_errno(env, e, "netlink", what);
    }
  }
}

/* ---- Ethernet frames (gratuitous ARP) ---- */

static napi_value js_hwaddr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  args(env, info, 1, argv);
  char ifname[IF_NAMESIZE];
  if (!get_string(env, argv[0], ifname, sizeof ifname, "ifname")) return NULL;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "socket(AF_INET, SOCK_DGRAM)");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strlen(ifname));
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    int e = errno;
    close(fd);
    char what[64];
    snprintf(what, sizeof what, "ioctl(SIOCGIFHWADDR, %s)", ifname);
    return throw_errno(env, e == ENODEV ? ENODEV : e, e == ENODEV ? "if_nametoindex" : "ioctl", what);
  }
  close(fd);
  const unsigned char *m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
  char text[18];
  snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  napi_value v;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value js_frame(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  args(env, info, 2, argv);
  char ifname[IF_NAMESIZE];
  if (!get_string(env, argv[0], ifname, sizeof ifname, "ifname")) return NULL;
  void *data = NULL;
  size_t len = 0;
  bool is = false;
  napi_is_typedarray(env, argv[1], &is);
  if (!is) return throw_type(env, "the frame must be a Uint8Array");
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  napi_get_typedarray_info(env, argv[1], &type, &len, &data, &ab, &offset);
  if (type != napi_uint8_array || len < 14 || len > 1514) return throw_type(env, "the frame must be a Uint8Array of 14-1514 bytes");
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    char what[64];
    snprintf(what, sizeof what, "if_nametoindex(%s)", ifname);
    return throw_errno(env, errno, "if_nametoindex", what);
  }
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "socket(AF_PACKET, SOCK_RAW)");
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = (int)ifindex;
  to.sll_halen = ETH_ALEN;
  memcpy(to.sll_addr, data, ETH_ALEN); /* the frame's own destination */
  ssize_t n = sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  int e = errno;
  close(fd);
  if (n < 0) {
    char what[64];
    snprintf(what, sizeof what, "sendto(AF_PACKET, %s)", ifname);
    return throw_errno(env, e, "sendto", what);
  }
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

/* ---- conntrack counts over NETLINK_NETFILTER (ctnetlink) ----
 *
 * What `palisade status` shows as ActiveConn / InActConn for mode nat services: the
 * conntrack table is dumped (IPCTNL_MSG_CT_GET with NLM_F_DUMP, AF_INET) on a libuv
 * thread-pool thread, and each entry is counted in C against the caller's rows
 * (protocol, original destination = VIP:port, reply source = real server:port after
 * DNAT) by its TCP state. No JS object per entry: the answer is one Uint32Array of
 * CT_SLOTS counters per row, whatever the size of the table.
 *
 * With at most CT_FILTER_MAX_VIPS distinct VIP addresses among the rows, there is one
 * dump per VIP, each asking the kernel for only the entries whose original
 * destination is that VIP (CTA_FILTER, Linux 5.8+): the kernel still walks the whole
 * hash table, but formats and copies only those, and formatting is most of the cost
 * when other flows fill the table (bench/conntrack.ts: 100,000 unrelated entries,
 * ~240 ms for an unfiltered dump, ~40 ms filtered; the walk alone of 262,144 empty
 * buckets ~12 ms). Beyond that many VIPs, repeated walks would cost more than one unfiltered
 * dump. The full 5-tuple is matched here in every case, and in a filtered dump only
 * entries to that dump's VIP count: a kernel without CTA_FILTER ignores the attribute
 * (liberal attribute parsing) and sends everything, and the counts stay right. */

#define CT_ROW_FIELDS 5
#define CT_SLOTS 16
/* entries without a TCP state (UDP, or TCP without CTA_PROTOINFO) */
#define CT_SLOT_NONE 15
#define CT_MAX_ROWS 65536
/* A dump part is at most ~32 KiB (the kernel sizes it by our largest recvmsg, capped
 * at SKB_WITH_OVERHEAD(32768)); twice that, and MSG_TRUNC is an error anyway. */
#define CT_RECV_BUFFER (64 * 1024)
/* SO_RCVTIMEO: a kernel that stops answering fails the dump instead of holding a pool thread */
#define CT_RECV_TIMEOUT_S 5
#define CT_FILTER_MAX_VIPS 4
/* CTA_FILTER_ORIG_FLAGS bit for the original destination address: CTA_FILTER_F_CTA_IP_DST
 * in net/netfilter/nf_conntrack_netlink.c (not in the UAPI headers; the value is ABI) */
#define CT_FILTER_F_IP_DST (1U << 1)

typedef struct {
  uint32_t dst;   /* original destination address (the VIP), host byte order */
  uint32_t src;   /* reply source address (the real server), host byte order */
  uint16_t dport; /* original destination port */
  uint16_t sport; /* reply source port */
  uint8_t proto;
  uint32_t row;   /* index of the row in the caller's array */
} ct_key;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  size_t nrows;
  ct_key *keys;      /* sorted by ct_key_cmp */
  uint32_t *counts;  /* CT_SLOTS per sorted key */
  double entries;    /* entries parsed: every IPv4 entry, or (filtered) those to the VIPs */
  double matched;    /* entries counted in some row */
  double malformed;  /* entries whose attributes did not parse (skipped) */
  bool interrupted;  /* NLM_F_DUMP_INTR seen: the table changed during the dump */
  int dumps;         /* dumps made (one per VIP when filtered) */
  bool filtered;     /* the kernel was asked for the VIPs' entries only */
  bool vip_only;     /* the dump under way counts only entries to `vip` */
  uint32_t vip;      /* host byte order */
  double elapsed_ms;
  int err;           /* errno of the failure, 0 if none */
  const char *syscall;
  char what[96];
} ct_job;

static int ct_key_cmp(const void *pa, const void *pb) {
  const ct_key *a = pa, *b = pb;
  if (a->dst != b->dst) return a->dst < b->dst ? -1 : 1;
  if (a->dport != b->dport) return a->dport < b->dport ? -1 : 1;
  if (a->proto != b->proto) return a->proto < b->proto ? -1 : 1;
  if (a->src != b->src) return a->src < b->src ? -1 : 1;
  if (a->sport != b->sport) return a->sport < b->sport ? -1 : 1;
  return 0;
}

/* Attributes of [p, p + len) by type (NLA_TYPE_MASK strips NLA_F_NESTED and
 * NLA_F_NET_BYTEORDER), the first of each type; types above `max` are skipped. The
 * length is signed: a bad nla_len can never walk past the end. False if malformed. */
static bool ct_attrs(const unsigned char *p, int len, const struct nlattr **tb, int max) {
  for (int i = 0; i <= max; i++) tb[i] = NULL;
  while (len >= (int)NLA_HDRLEN) {
    const struct nlattr *a = (const struct nlattr *)p;
    int alen = a->nla_len;
    if (alen < (int)NLA_HDRLEN || alen > len) return false;
    int type = a->nla_type & NLA_TYPE_MASK;
    if (type <= max && tb[type] == NULL) tb[type] = a;
    int step = NLA_ALIGN(alen);
    if (step >= len) return true; /* the last attribute (its padding may be cut) */
    p += step;
    len -= step;
  }
  return len == 0;
}

/* The payload of `a` if it holds at least `need` bytes, else NULL. */
static const unsigned char *ct_payload(const struct nlattr *a, int need) {
  if (a == NULL || (int)a->nla_len - (int)NLA_HDRLEN < need) return NULL;
  return (const unsigned char *)a + NLA_HDRLEN;
}

static bool ct_nested(const struct nlattr *a, const struct nlattr **tb, int max) {
  return a != NULL && ct_attrs((const unsigned char *)a + NLA_HDRLEN, (int)a->nla_len - (int)NLA_HDRLEN, tb, max);
}

typedef struct {
  uint32_t src, dst; /* host byte order */
  uint16_t sport, dport;
  uint8_t proto;
} ct_tuple;

/* CTA_TUPLE_ORIG / CTA_TUPLE_REPLY: CTA_TUPLE_IP {CTA_IP_V4_SRC, CTA_IP_V4_DST},
 * CTA_TUPLE_PROTO {CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT}; addresses
 * and ports in network byte order. Ports are absent for ICMP: 0. */
static bool ct_parse_tuple(const struct nlattr *t, ct_tuple *out) {
  const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];
  if (!ct_nested(t, tb, CTA_TUPLE_MAX) || !ct_nested(tb[CTA_TUPLE_IP], ip, CTA_IP_MAX) || !ct_nested(tb[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX)) return false;
  const unsigned char *src = ct_payload(ip[CTA_IP_V4_SRC], 4), *dst = ct_payload(ip[CTA_IP_V4_DST], 4), *num = ct_payload(pr[CTA_PROTO_NUM], 1);
  if (src == NULL || dst == NULL || num == NULL) return false;
  uint32_t a;
  memcpy(&a, src, 4);
  out->src = ntohl(a);
  memcpy(&a, dst, 4);
  out->dst = ntohl(a);
  out->proto = num[0];
  uint16_t port;
  const unsigned char *sp = ct_payload(pr[CTA_PROTO_SRC_PORT], 2), *dp = ct_payload(pr[CTA_PROTO_DST_PORT], 2);
  out->sport = 0;
  out->dport = 0;
  if (sp != NULL) {
    memcpy(&port, sp, 2);
    out->sport = ntohs(port);
  }
  if (dp != NULL) {
    memcpy(&port, dp, 2);
    out->dport = ntohs(port);
  }
  return true;
}

/* One conntrack entry (the attributes after its nfgenmsg): counted in its row, if any. */
static void ct_count_entry(ct_job *j, const unsigned char *attrs, int len) {
  const struct nlattr *tb[CTA_MAX + 1];
  ct_tuple orig, reply;
  if (!ct_attrs(attrs, len, tb, CTA_MAX) || !ct_parse_tuple(tb[CTA_TUPLE_ORIG], &orig) || !ct_parse_tuple(tb[CTA_TUPLE_REPLY], &reply)) {
    j->malformed++;
    return;
  }
  /* a filtered dump's other entries (a kernel without CTA_FILTER sends them all) are another dump's */
  if (j->vip_only && orig.dst != j->vip) return;
  j->entries++;
  if (j->nrows == 0) return;
  ct_key k = {.dst = orig.dst, .dport = orig.dport, .proto = orig.proto, .src = reply.src, .sport = reply.sport};
  const ct_key *hit = bsearch(&k, j->keys, j->nrows, sizeof k, ct_key_cmp);
  if (hit == NULL) return;
  /* rows listed twice: count in the first of the equal keys (ct_complete copies it to the others) */
  while (hit > j->keys && ct_key_cmp(hit - 1, &k) == 0) hit--;
  size_t slot = CT_SLOT_NONE;
  if (orig.proto == IPPROTO_TCP && tb[CTA_PROTOINFO] != NULL) {
    const struct nlattr *pi[CTA_PROTOINFO_MAX + 1], *tcp[CTA_PROTOINFO_TCP_MAX + 1];
    if (ct_nested(tb[CTA_PROTOINFO], pi, CTA_PROTOINFO_MAX) && ct_nested(pi[CTA_PROTOINFO_TCP], tcp, CTA_PROTOINFO_TCP_MAX)) {
      const unsigned char *st = ct_payload(tcp[CTA_PROTOINFO_TCP_STATE], 1);
      if (st != NULL && st[0] < CT_SLOT_NONE) slot = st[0]; /* enum tcp_conntrack */
    }
  }
  j->counts[(size_t)(hit - j->keys) * CT_SLOTS + slot]++;
  j->matched++;
}

static void ct_fail(ct_job *j, int e, const char *syscall, const char *what) {
  j->err = e;
  j->syscall = syscall;
  snprintf(j->what, sizeof j->what, "%s", what);
}

/* One dump: every IPv4 entry, or (vip_only) those whose original destination is j->vip.
 * On a thread-pool thread: no N-API calls here. */
static void ct_dump_one(ct_job *j) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    ct_fail(j, errno, "socket", "socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER)");
    return;
  }
  struct timeval tv = {CT_RECV_TIMEOUT_S, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static const char *what = "conntrack dump (ctnetlink IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_INET)";
  struct {
    struct nlmsghdr nh;
    struct nfgenmsg nfg;
    unsigned char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
  req.nh.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = (uint32_t)time(NULL) + (uint32_t)j->dumps;
  req.nfg.nfgen_family = AF_INET; /* the kernel dumps only IPv4 entries */
  req.nfg.version = NFNETLINK_V0;
  if (j->vip_only) {
    /* CTA_TUPLE_ORIG { CTA_TUPLE_IP { CTA_IP_V4_DST vip } }, CTA_FILTER { CTA_FILTER_ORIG_FLAGS IP_DST } */
    unsigned char *p = (unsigned char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len);
    struct nlattr *tuple = (struct nlattr *)p, *ip = (struct nlattr *)(p + NLA_HDRLEN), *dst = (struct nlattr *)(p + 2 * NLA_HDRLEN);
    uint32_t vip = htonl(j->vip), flags = CT_FILTER_F_IP_DST;
    dst->nla_type = CTA_IP_V4_DST;
    dst->nla_len = NLA_HDRLEN + sizeof vip;
    memcpy((unsigned char *)dst + NLA_HDRLEN, &vip, sizeof vip);
    ip->nla_type = CTA_TUPLE_IP | NLA_F_NESTED;
    ip->nla_len = NLA_HDRLEN + NLA_ALIGN(dst->nla_len);
    tuple->nla_type = CTA_TUPLE_ORIG | NLA_F_NESTED;
    tuple->nla_len = NLA_HDRLEN + ip->nla_len;
    struct nlattr *filter = (struct nlattr *)(p + NLA_ALIGN(tuple->nla_len)), *orig = (struct nlattr *)((unsigned char *)filter + NLA_HDRLEN);
    orig->nla_type = CTA_FILTER_ORIG_FLAGS;
    orig->nla_len = NLA_HDRLEN + sizeof flags;
    memcpy((unsigned char *)orig + NLA_HDRLEN, &flags, sizeof flags);
    filter->nla_type = CTA_FILTER | NLA_F_NESTED;
    filter->nla_len = NLA_HDRLEN + NLA_ALIGN(orig->nla_len);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + NLA_ALIGN(tuple->nla_len) + NLA_ALIGN(filter->nla_len);
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent;
  do sent = sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    int e = errno;
    close(fd);
    ct_fail(j, e, "sendto", what);
    return;
  }
  unsigned char *buf = malloc(CT_RECV_BUFFER);
  if (buf == NULL) {
    close(fd);
    ct_fail(j, ENOMEM, NULL, what);
    return;
  }
  for (;;) {
    struct sockaddr_nl from;
    struct iovec iov = {buf, CT_RECV_BUFFER};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      ct_fail(j, e == EAGAIN || e == EWOULDBLOCK ? ETIMEDOUT : e, "recvmsg", what);
      break;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      ct_fail(j, EMSGSIZE, "recvmsg", what);
      break;
    }
    if (n == 0) {
      ct_fail(j, EPIPE, "recvmsg", what); /* the kernel never ends a dump without NLMSG_DONE */
      break;
    }
    if (from.nl_pid != 0) continue; /* not from the kernel */
    /* signed: NLMSG_NEXT subtracts the aligned length, which can take it below zero */
    int len = (int)n;
    bool done = false;
    struct nlmsghdr *h;
    for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != req.nh.nlmsg_seq) continue; /* an answer to something else */
      if (h->nlmsg_type == NLMSG_DONE) {
        /* a dump's end carries an int: 0, or the error that cut it short */
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int e;
          memcpy(&e, NLMSG_DATA(h), sizeof e);
          if (e < 0) ct_fail(j, -e, "netlink", what);
        }
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
          ct_fail(j, EBADMSG, "netlink", what);
        } else {
          int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
          if (e == 0) continue; /* an acknowledgement (none was asked for) */
          ct_fail(j, -e, "netlink", what); /* EPERM without CAP_NET_ADMIN; EINVAL without ctnetlink */
        }
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_OVERRUN) continue;
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) j->interrupted = true;
      /* entries come back typed as the request (IPCTNL_MSG_CT_GET); events would be CT_NEW */
      unsigned type = NFNL_MSG_TYPE(h->nlmsg_type);
      if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_CTNETLINK || (type != IPCTNL_MSG_CT_GET && type != IPCTNL_MSG_CT_NEW)) continue;
      int alen = (int)h->nlmsg_len - (int)NLMSG_SPACE(sizeof(struct nfgenmsg));
      if (alen < 0) {
        j->malformed++;
        continue;
      }
      const struct nfgenmsg *g = NLMSG_DATA(h);
      if (g->nfgen_family != AF_INET) continue;
      ct_count_entry(j, (const unsigned char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg)), alen);
    }
    if (done) break;
    /* below zero: the last message's padding was cut, nothing lost */
    if (len > 0) {
      /* bytes left that are not a whole message: a cut or corrupt answer */
      ct_fail(j, EBADMSG, "netlink", what);
      break;
    }
  }
  free(buf);
  close(fd);
}

/* One dump per distinct VIP with the kernel filter, or one unfiltered dump (see above). */
static void ct_dump(ct_job *j) {
  size_t vips = 0;
  for (size_t i = 0; i < j->nrows; i++)
    if (i == 0 || j->keys[i].dst != j->keys[i - 1].dst) vips++; /* keys are sorted by dst first */
  if (vips == 0 || vips > CT_FILTER_MAX_VIPS) {
    j->dumps = 1;
    ct_dump_one(j);
    return;
  }
  j->filtered = true;
  j->vip_only = true;
  for (size_t i = 0; i < j->nrows && j->err == 0; i++) {
    if (i > 0 && j->keys[i].dst == j->keys[i - 1].dst) continue;
    j->vip = j->keys[i].dst;
    j->dumps++;
    ct_dump_one(j);
  }
}

static void ct_execute(napi_env env, void *data) {
  (void)env;
  ct_job *j = data;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ct_dump(j);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  j->elapsed_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static void ct_free(napi_env env, ct_job *j) {
  if (j->work != NULL) napi_delete_async_work(env, j->work);
  free(j->keys);
  free(j->counts);
  free(j);
}

static void set_double(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

/* Back on the loop thread: resolve with the counts, or reject with an errno error. */
static void ct_complete(napi_env env, napi_status status, void *data) {
  ct_job *j = data;
  if (status == napi_cancelled) ct_fail(j, ECANCELED, NULL, "conntrack dump");
  if (j->err != 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s (%s)", j->what, errno_name(j->err), strerror(j->err));
    napi_value c, m, err, s;
    napi_create_string_utf8(env, errno_name(j->err), NAPI_AUTO_LENGTH, &c);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, c, m, &err);
    if (j->syscall != NULL) {
      napi_create_string_utf8(env, j->syscall, NAPI_AUTO_LENGTH, &s);
      napi_set_named_property(env, err, "syscall", s);
    }
    napi_reject_deferred(env, j->deferred, err);
    ct_free(env, j);
    return;
  }
  napi_value ab, counts, result;
  void *out = NULL;
  size_t bytes = j->nrows * CT_SLOTS * sizeof(uint32_t);
  napi_create_arraybuffer(env, bytes, &out, &ab);
  for (size_t i = 0; i < j->nrows; i++) {
    size_t first = i; /* rows listed twice were counted in the first equal key */
    while (first > 0 && ct_key_cmp(&j->keys[first - 1], &j->keys[i]) == 0) first--;
    memcpy((uint32_t *)out + (size_t)j->keys[i].row * CT_SLOTS, j->counts + first * CT_SLOTS, CT_SLOTS * sizeof(uint32_t));
  }
  napi_create_typedarray(env, napi_uint32_array, j->nrows * CT_SLOTS, ab, 0, &counts);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "counts", counts);
  set_double(env, result, "entries", j->entries);
  set_double(env, result, "matched", j->matched);
  set_double(env, result, "malformed", j->malformed);
  set_double(env, result, "elapsedMs", j->elapsed_ms);
  set_double(env, result, "dumps", j->dumps);
  napi_set_named_property(env, result, "interrupted", make_bool(env, j->interrupted));
  napi_set_named_property(env, result, "filtered", make_bool(env, j->filtered));
  napi_resolve_deferred(env, j->deferred, result);
  ct_free(env, j);
}

static napi_value js_conntrack(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  args(env, info, 1, argv);
  bool is = false;
  napi_is_typedarray(env, argv[0], &is);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (!is || napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint32_array ||
      length % CT_ROW_FIELDS != 0 || length / CT_ROW_FIELDS > CT_MAX_ROWS)
    return throw_type(env, "rows must be a Uint32Array of [protocol, vip, vport, server, sport] rows (at most 65536)");
  size_t nrows = length / CT_ROW_FIELDS;
  const uint32_t *rows = data;
  ct_job *j = calloc(1, sizeof *j);
  if (j == NULL) return throw_errno(env, ENOMEM, NULL, "conntrack: allocating the job");
  j->nrows = nrows;
  j->keys = malloc((nrows > 0 ? nrows : 1) * sizeof *j->keys);
  j->counts = calloc((nrows > 0 ? nrows : 1) * CT_SLOTS, sizeof *j->counts);
  if (j->keys == NULL || j->counts == NULL) {
    ct_free(env, j);
    return throw_errno(env, ENOMEM, NULL, "conntrack: allocating the rows");
  }
  for (size_t i = 0; i < nrows; i++) {
    const uint32_t *r = rows + i * CT_ROW_FIELDS;
    if (r[0] > 255 || r[2] > 65535 || r[4] > 65535) {
      ct_free(env, j);
      return throw_type(env, "a row's protocol must be 0-255 and its ports 0-65535");
    }
    j->keys[i] = (ct_key){.proto = (uint8_t)r[0], .dst = r[1], .dport = (uint16_t)r[2], .src = r[3], .sport = (uint16_t)r[4], .row = (uint32_t)i};
  }
  qsort(j->keys, nrows, sizeof *j->keys, ct_key_cmp);
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    ct_free(env, j);
    return NULL;
  }
  napi_create_string_utf8(env, "PalisadeConntrackDump", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, ct_execute, ct_complete, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_value err, m;
    napi_create_string_utf8(env, "conntrack: could not queue the dump on the thread pool", NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &err);
    napi_reject_deferred(env, j->deferred, err);
    ct_free(env, j);
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"join", NULL, js_join, NULL, NULL, NULL, napi_enumerable, NULL},
      {"leave", NULL, js_leave, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recv", NULL, js_recv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, js_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addr", NULL, js_addr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hwaddr", NULL, js_hwaddr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"frame", NULL, js_frame, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conntrack", NULL, js_conntrack, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
