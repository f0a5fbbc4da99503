{
  "targets": [
    {
      "target_name": "tun_driver_native",
      "sources": ["native/addon.cc", "native/aead.cc", "native/checksum.cc", "native/errors.cc", "native/fd_ops.cc", "native/gso_split.cc", "native/inet6.cc", "native/poller.cc", "native/netns.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
