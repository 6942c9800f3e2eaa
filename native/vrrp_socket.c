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
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
