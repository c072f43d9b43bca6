{
  "targets": [
    {
      "target_name": "pinhole_native",
      "sources": ["src/addon.cc", "src/engine.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "ldflags": ["-Wl,-z,now"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }],
        ["pinhole_sanitize=='address'", {
          "cflags_cc": ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1"],
          "ldflags": ["-fsanitize=address"]
        }]
      ]
    }
  ],
  "variables": { "pinhole_sanitize%": "<!(node -p \"process.env.PINHOLE_NATIVE_SANITIZE || ''\")" }
}
