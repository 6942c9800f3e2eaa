# The VRRP raw-socket addon (Linux only). Built by scripts/build-native.mjs, which
# npm runs as the install script; see docs/vrrp-transport.md.
{
  "targets": [
    {
      "target_name": "vrrp_socket",
      "sources": ["native/vrrp_socket.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
    }
  ]
}
