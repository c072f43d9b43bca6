// Node-API surface of the native byte path (plain node_api.h: ABI-stable, no header package needed).
//
//   init(onEvent)                                   start the engine; onEvent(kind, id, up, down, payload, text)
//   tlsConnect(fd, servername, alpnWire) -> id      TLS client handshake on a copy of fd
//   verified(id, head)                              the peer was accepted: send head, read the answer's head
//                                                   (an empty head parks the session, watched, until send())
//   send(id, bytes)                                 bytes before the answer: a parked session's head, early bytes
//   attach(id, fd, toGateway, toApplication[, idleMs, halfCloseMs])
//                                                   relay between a copy of fd and the TLS session
//   relayPlain(fdA, fdB, toB, toA, copy[, idleMs, halfCloseMs]) -> id
//                                                   relay between copies of two plain descriptors (splice unless copy)
//   counts(id) -> [up, down]                        a live relay's byte counts (status, metrics)
//   socketPair() -> [fd, fd]                        a connected AF_UNIX stream pair (a tunnel used as a JS stream)
//   destroy(id)                                     end a relay at once
//   openssl()                                       the OpenSSL version the addon runs with
//
// Descriptors are duplicated here (F_DUPFD_CLOEXEC) before the call returns, so JavaScript may
// destroy its socket right after. Events: 1 secure (payload: DER certificates, text: ALPN, up: 1 when
// resumed), 2 head (payload: the head), 3 half-close (up: direction), 4 close (text: error or '', payload: bytes spliced).
#include <node_api.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "engine.h"

namespace {

using pinhole::Bytes;
using pinhole::Command;
using pinhole::Counters;
using pinhole::Limits;
using pinhole::Engine;
using pinhole::Event;
using pinhole::EventKind;

struct Addon {
  napi_threadsafe_function tsfn = nullptr;
  std::unique_ptr<Engine> engine;
  uint32_t nextId = 1;
  uint32_t live = 0;  // relays started and not yet closed; the loop is held open while > 0
  // Live relays' counters by id (JavaScript thread only: added at the start, dropped at the close event).
  std::unordered_map<uint32_t, std::shared_ptr<Counters>> counters;
};

#define CHECK(env, call)                                   \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_error((env), "PINHOLE_NATIVE", #call);    \
      return nullptr;                                      \
    }                                                      \
  } while (0)

napi_value throwError(napi_env env, const std::string& message) {
  napi_throw_error(env, "PINHOLE_NATIVE", message.c_str());
  return nullptr;
}

Addon* addonOf(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Addon*>(data);
}

napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

napi_value buffer(napi_env env, const Bytes& bytes) {
  napi_value out;
  void* data = nullptr;
  napi_create_buffer_copy(env, bytes.size(), bytes.empty() ? "" : static_cast<const void*>(bytes.data()), &data, &out);
  return out;
}

void holdLoop(napi_env env, Addon* addon) {
  if (addon->live++ == 0) napi_ref_threadsafe_function(env, addon->tsfn);
}

void callJs(napi_env env, napi_value callback, void* context, void* data) {
  std::unique_ptr<Event> event(static_cast<Event*>(data));
  if (env == nullptr || callback == nullptr) return;
  Addon* addon = static_cast<Addon*>(context);
  napi_value payload;
  napi_get_undefined(env, &payload);
  if (event->kind == EventKind::Secure) {
    napi_create_array_with_length(env, event->certificates.size(), &payload);
    for (size_t i = 0; i < event->certificates.size(); i++) napi_set_element(env, payload, static_cast<uint32_t>(i), buffer(env, event->certificates[i]));
  } else if (event->kind == EventKind::Head) {
    payload = buffer(env, event->data);
  } else if (event->kind == EventKind::Close) {
    payload = number(env, event->spliced);
  }
  napi_value text;
  napi_create_string_utf8(env, event->text.c_str(), event->text.size(), &text);
  double first = event->kind == EventKind::Secure ? (event->resumed ? 1 : 0) : event->kind == EventKind::HalfClose ? event->direction : event->bytesUp;
  napi_value args[6] = {number(env, static_cast<int>(event->kind)), number(env, event->id), number(env, first), number(env, event->bytesDown), payload, text};
  napi_value global;
  napi_get_global(env, &global);
  if (event->kind == EventKind::Close) addon->counters.erase(event->id);
  if (event->kind == EventKind::Close && addon->live > 0 && --addon->live == 0) napi_unref_threadsafe_function(env, addon->tsfn);
  napi_call_function(env, global, callback, 6, args, nullptr);
}

void cleanup(void* data) {
  Addon* addon = static_cast<Addon*>(data);
  if (addon->engine) addon->engine->stop();
  addon->engine.reset();
  if (addon->tsfn != nullptr) napi_release_threadsafe_function(addon->tsfn, napi_tsfn_abort);
  addon->tsfn = nullptr;
}

void finalizeAddon(napi_env env, void* data, void* hint) { delete static_cast<Addon*>(data); }

bool argInt(napi_env env, napi_value value, int32_t* out) { return napi_get_value_int32(env, value, out) == napi_ok; }

bool argBytes(napi_env env, napi_value value, Bytes* out) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_undefined || type == napi_null) return true;
  bool isBuffer = false;
  napi_is_buffer(env, value, &isBuffer);
  if (!isBuffer) return false;
  void* data = nullptr;
  size_t length = 0;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok) return false;
  out->assign(static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + length);
  return true;
}

int duplicate(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

Addon* running(napi_env env) {
  Addon* addon = addonOf(env);
  if (addon == nullptr || !addon->engine) {
    throwError(env, "The native byte path is not started (init first).");
    return nullptr;
  }
  return addon;
}

napi_value Init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Addon* addon = addonOf(env);
  if (addon->engine) return throwError(env, "The native byte path is already started.");
  napi_valuetype type;
  napi_typeof(env, argv[0], &type);
  if (argc < 1 || type != napi_function) return throwError(env, "init(onEvent) needs a function.");
  napi_value name;
  napi_create_string_utf8(env, "pinhole-native-events", NAPI_AUTO_LENGTH, &name);
  CHECK(env, napi_create_threadsafe_function(env, argv[0], nullptr, name, 0, 1, nullptr, nullptr, addon, callJs, &addon->tsfn));
  napi_unref_threadsafe_function(env, addon->tsfn);
  napi_threadsafe_function tsfn = addon->tsfn;
  auto engine = std::make_unique<Engine>([tsfn](Event* event) {
    if (napi_call_threadsafe_function(tsfn, event, napi_tsfn_nonblocking) != napi_ok) delete event;
  });
  std::string error;
  if (!engine->start(&error)) {
    napi_release_threadsafe_function(addon->tsfn, napi_tsfn_abort);
    addon->tsfn = nullptr;
    return throwError(env, "The native byte path could not start: " + error);
  }
  addon->engine = std::move(engine);
  return nullptr;
}

// One call's arguments, checked for count, and the started engine they go to.
template <size_t N>
struct Call {
  napi_value argv[N + 2];  // room for optional trailing arguments
  size_t argc = N + 2;
  Addon* addon = nullptr;
  const char* usage;

  Call(napi_env env, napi_callback_info info, const char* usage_) : usage(usage_) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < N) {
      throwError(env, usage);
      return;
    }
    addon = running(env);
  }
  bool ok() const { return addon != nullptr; }
};

// Optional trailing (idleMs, halfCloseMs) at argv[at], argv[at + 1]; absent or 0: no limit.
bool argLimits(napi_env env, napi_value* argv, size_t argc, size_t at, Limits* out) {
  uint32_t values[2] = {0, 0};
  for (size_t i = 0; i < 2; i++) {
    if (argc <= at + i) continue;
    napi_valuetype type;
    napi_typeof(env, argv[at + i], &type);
    if (type == napi_undefined) continue;
    if (napi_get_value_uint32(env, argv[at + i], &values[i]) != napi_ok) return false;
  }
  out->idleMs = values[0];
  out->halfCloseMs = values[1];
  return true;
}

// Queues the command; a new relay holds the event loop until its close event.
napi_value post(napi_env env, Addon* addon, Command command, bool newRelay) {
  if (newRelay) {
    command.id = addon->nextId++;
    command.counters = std::make_shared<Counters>();
    addon->counters[command.id] = command.counters;
    holdLoop(env, addon);
  }
  uint32_t id = command.id;
  addon->engine->post(std::move(command));
  return newRelay ? number(env, id) : nullptr;
}

napi_value TlsConnect(napi_env env, napi_callback_info info) {
  Call<3> call(env, info, "tlsConnect(fd, servername, alpn) needs a descriptor, a server name and ALPN in wire format.");
  if (!call.ok()) return nullptr;
  int32_t fd;
  char servername[256];
  size_t length = 0;
  Command command;
  command.type = Command::Type::TlsConnect;
  if (!argInt(env, call.argv[0], &fd) || napi_get_value_string_utf8(env, call.argv[1], servername, sizeof servername, &length) != napi_ok ||
      !argBytes(env, call.argv[2], &command.alpn))
    return throwError(env, call.usage);
  command.servername.assign(servername, length);
  command.fd = duplicate(fd);
  if (command.fd < 0) return throwError(env, std::string("tlsConnect: the descriptor cannot be duplicated: ") + std::strerror(errno));
  return post(env, call.addon, std::move(command), true);
}

napi_value Verified(napi_env env, napi_callback_info info) {
  Call<2> call(env, info, "verified(id, head) needs an id and a Buffer.");
  if (!call.ok()) return nullptr;
  int32_t id;
  Command command;
  command.type = Command::Type::Verified;
  if (!argInt(env, call.argv[0], &id) || !argBytes(env, call.argv[1], &command.bytes)) return throwError(env, call.usage);
  command.id = static_cast<uint32_t>(id);
  return post(env, call.addon, std::move(command), false);
}

napi_value Send(napi_env env, napi_callback_info info) {
  Call<2> call(env, info, "send(id, bytes) needs an id and a Buffer.");
  if (!call.ok()) return nullptr;
  int32_t id;
  Command command;
  command.type = Command::Type::Send;
  if (!argInt(env, call.argv[0], &id) || !argBytes(env, call.argv[1], &command.bytes)) return throwError(env, call.usage);
  command.id = static_cast<uint32_t>(id);
  return post(env, call.addon, std::move(command), false);
}

napi_value Attach(napi_env env, napi_callback_info info) {
  Call<4> call(env, info, "attach(id, fd, toGateway, toApplication) needs an id, a descriptor and two Buffers.");
  if (!call.ok()) return nullptr;
  int32_t id;
  int32_t fd;
  Command command;
  command.type = Command::Type::Attach;
  if (!argInt(env, call.argv[0], &id) || !argInt(env, call.argv[1], &fd) || !argBytes(env, call.argv[2], &command.bytes) || !argBytes(env, call.argv[3], &command.bytes2) ||
      !argLimits(env, call.argv, call.argc, 4, &command.limits))
    return throwError(env, call.usage);
  command.fd = duplicate(fd);
  if (command.fd < 0) return throwError(env, std::string("attach: the descriptor cannot be duplicated: ") + std::strerror(errno));
  command.id = static_cast<uint32_t>(id);
  return post(env, call.addon, std::move(command), false);
}

napi_value RelayPlain(napi_env env, napi_callback_info info) {
  Call<5> call(env, info, "relayPlain(fdA, fdB, toB, toA, copy) needs two descriptors, two Buffers and a boolean.");
  if (!call.ok()) return nullptr;
  int32_t a;
  int32_t b;
  Command command;
  command.type = Command::Type::Plain;
  if (!argInt(env, call.argv[0], &a) || !argInt(env, call.argv[1], &b) || !argBytes(env, call.argv[2], &command.bytes) || !argBytes(env, call.argv[3], &command.bytes2) ||
      napi_get_value_bool(env, call.argv[4], &command.copy) != napi_ok || !argLimits(env, call.argv, call.argc, 5, &command.limits))
    return throwError(env, call.usage);
  command.fd = duplicate(a);
  command.fd2 = command.fd < 0 ? -1 : duplicate(b);
  if (command.fd < 0 || command.fd2 < 0) {
    int saved = errno;
    if (command.fd >= 0) close(command.fd);
    return throwError(env, std::string("relayPlain: a descriptor cannot be duplicated: ") + std::strerror(saved));
  }
  return post(env, call.addon, std::move(command), true);
}

napi_value Destroy(napi_env env, napi_callback_info info) {
  Call<1> call(env, info, "destroy(id) needs an id.");
  if (!call.ok()) return nullptr;
  int32_t id;
  if (!argInt(env, call.argv[0], &id)) return throwError(env, call.usage);
  Command command;
  command.type = Command::Type::Destroy;
  command.id = static_cast<uint32_t>(id);
  return post(env, call.addon, std::move(command), false);
}

napi_value Counts(napi_env env, napi_callback_info info) {
  Call<1> call(env, info, "counts(id) needs an id.");
  if (!call.ok()) return nullptr;
  int32_t id;
  if (!argInt(env, call.argv[0], &id)) return throwError(env, call.usage);
  auto found = call.addon->counters.find(static_cast<uint32_t>(id));
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  double up = found == call.addon->counters.end() ? 0 : static_cast<double>(found->second->up.load(std::memory_order_relaxed));
  double down = found == call.addon->counters.end() ? 0 : static_cast<double>(found->second->down.load(std::memory_order_relaxed));
  napi_set_element(env, out, 0, number(env, up));
  napi_set_element(env, out, 1, number(env, down));
  return out;
}

napi_value SocketPair(napi_env env, napi_callback_info info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) return throwError(env, std::string("socketPair: ") + std::strerror(errno));
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, number(env, fds[0]));
  napi_set_element(env, out, 1, number(env, fds[1]));
  return out;
}

napi_value OpenSsl(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &out);
  return out;
}

napi_value Module(napi_env env, napi_value exports) {
  auto* addon = new Addon();
  if (napi_set_instance_data(env, addon, finalizeAddon, nullptr) != napi_ok) {
    delete addon;
    return nullptr;
  }
  napi_add_env_cleanup_hook(env, cleanup, addon);
  napi_property_descriptor properties[] = {
      {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tlsConnect", nullptr, TlsConnect, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"verified", nullptr, Verified, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"send", nullptr, Send, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"attach", nullptr, Attach, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relayPlain", nullptr, RelayPlain, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"destroy", nullptr, Destroy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"counts", nullptr, Counts, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"socketPair", nullptr, SocketPair, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"openssl", nullptr, OpenSsl, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Module)
