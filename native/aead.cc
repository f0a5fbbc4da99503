// The addon's AEAD kernel (DESIGN.md: a compute function only where a
// benchmark shows it wins; bench/aead.ts measures it against node:crypto):
// WireGuard transport messages sealed and opened with ChaCha20-Poly1305 by
// the OpenSSL that Node.js itself is built with (its headers ship with
// Node's; its symbols are Node's own).
//
// A TransportKey holds one session key's cipher contexts, so a message
// costs a nonce set-up and the cipher, not a key schedule or an allocation.
// The message layout is WireGuard's (src/wireguard/messages.ts):
//   [type 4, 0, 0, 0] [receiver index, LE] [counter, 64-bit LE]
//   [packet, zero-padded] [16-byte tag]
// The 12-byte nonce is 4 zero bytes and the counter as it lies in the
// header; there is no additional data.
#include <openssl/evp.h>
#include <string.h>

#include "aead.h"
#include "errors.h"

namespace tdn {
namespace {

constexpr size_t kHeader = 16;
constexpr size_t kTag = 16;
constexpr size_t kKey = 32;
constexpr uint8_t kZeros[16] = {0};

class TransportKey : public Napi::ObjectWrap<TransportKey> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TransportKey", {InstanceMethod("sealBatch", &TransportKey::SealBatch), InstanceMethod("open", &TransportKey::Open)});
  }

  // new TransportKey(key: 32 bytes)
  explicit TransportKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TransportKey>(info) {
    Napi::Env env = info.Env();
    uint8_t* key;
    size_t keyLen;
    if (!ArgBytes(info, 0, &key, &keyLen)) return;
    if (keyLen != kKey) {
      ThrowArg(env, "TransportKey(key of 32 bytes)");
      return;
    }
    enc_ = EVP_CIPHER_CTX_new();
    dec_ = EVP_CIPHER_CTX_new();
    if (!enc_ || !dec_ || EVP_EncryptInit_ex(enc_, EVP_chacha20_poly1305(), nullptr, key, nullptr) != 1 ||
        EVP_DecryptInit_ex(dec_, EVP_chacha20_poly1305(), nullptr, key, nullptr) != 1)
      ThrowArg(env, "TransportKey: OpenSSL refused the cipher or key");
  }

  ~TransportKey() override {
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
  }

 private:
  static void Nonce(const uint8_t* header, uint8_t* nonce) {
    memset(nonce, 0, 4);
    memcpy(nonce + 4, header + 8, 8);
  }

  // Seals the message at `m` (header written): the `len` bytes at `from`
  // and `pad` zero bytes are encrypted into its payload; the tag follows.
  bool SealOne(uint8_t* m, const uint8_t* from, uint32_t len, uint32_t pad) {
    uint8_t nonce[12];
    Nonce(m, nonce);
    uint8_t* payload = m + kHeader;
    int outl = 0;
    if (EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce) != 1) return false;
    if (len > 0 && EVP_EncryptUpdate(enc_, payload, &outl, from, static_cast<int>(len)) != 1) return false;
    if (pad > 0 && EVP_EncryptUpdate(enc_, payload + len, &outl, kZeros, static_cast<int>(pad)) != 1) return false;
    return EVP_EncryptFinal_ex(enc_, payload + len + pad, &outl) == 1 &&
           EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, kTag, payload + len + pad) == 1;
  }

  // sealBatch(buf, offsets, lengths, first, count, receiverIndex, counter,
  //           src, srcOffsets, srcLengths, srcFirst): messages i in
  // [first, first+count) are buf[offsets[i], offsets[i]+lengths[i]),
  // lengths counting header, padded packet and tag. Each gets the
  // transport header (type 4, receiverIndex, counter + i - first) and the
  // packet src[srcOffsets[j], +srcLengths[j]) (j = srcFirst + i - first),
  // encrypted straight into it and zero-padded to lengths[i] - 32: no copy
  // first. One call per run of messages to one peer.
  Napi::Value SealBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t *buf, *src;
    size_t size, nOff, nLen, srcSize, nSrcOff, nSrcLen;
    uint32_t *offsets, *lengths, *srcOffsets, *srcLengths;
    uint32_t first, count, receiver, srcFirst;
    if (!ArgBytes(info, 0, &buf, &size) || !ArgU32Array(info, 1, &offsets, &nOff) || !ArgU32Array(info, 2, &lengths, &nLen) ||
        !ArgU32(info, 3, &first) || !ArgU32(info, 4, &count) || !ArgU32(info, 5, &receiver) || !ArgBytes(info, 7, &src, &srcSize) ||
        !ArgU32Array(info, 8, &srcOffsets, &nSrcOff) || !ArgU32Array(info, 9, &srcLengths, &nSrcLen) || !ArgU32(info, 10, &srcFirst))
      return env.Undefined();
    if (!info[6].IsNumber()) {
      ThrowArg(env, "sealBatch: counter must be a number");
      return env.Undefined();
    }
    uint64_t counter = static_cast<uint64_t>(info[6].As<Napi::Number>().DoubleValue());
    if (static_cast<uint64_t>(first) + count > nOff || static_cast<uint64_t>(first) + count > nLen ||
        static_cast<uint64_t>(srcFirst) + count > nSrcOff || static_cast<uint64_t>(srcFirst) + count > nSrcLen) {
      ThrowArg(env, "sealBatch: first + count exceeds the arrays");
      return env.Undefined();
    }
    for (uint32_t i = first; i < first + count; i++, counter++) {
      const uint64_t off = offsets[i], total = lengths[i];
      const uint32_t j = srcFirst + (i - first);
      const uint64_t at = srcOffsets[j], len = srcLengths[j];
      if (total < kHeader + kTag + len || off + total > size || at + len > srcSize) {
        ThrowArg(env, "sealBatch: a message or packet does not fit its buffer");
        return env.Undefined();
      }
      const uint64_t pad = total - kHeader - kTag - len;
      if (pad >= sizeof kZeros) {
        ThrowArg(env, "sealBatch: padding is less than 16 bytes");
        return env.Undefined();
      }
      uint8_t* m = buf + off;
      m[0] = 4;
      m[1] = m[2] = m[3] = 0;
      for (int b = 0; b < 4; b++) m[4 + b] = static_cast<uint8_t>(receiver >> (8 * b));
      for (int b = 0; b < 8; b++) m[8 + b] = static_cast<uint8_t>(counter >> (8 * b));
      if (!SealOne(m, src + at, static_cast<uint32_t>(len), static_cast<uint32_t>(pad))) {
        ThrowArg(env, "sealBatch: OpenSSL failed");
        return env.Undefined();
      }
    }
    return env.Undefined();
  }

  // open(buf, off, messageLength) -> padded packet length (the packet is
  // then at off+16, decrypted in place), or -1 when the tag does not verify
  // (the payload is then garbage and must be dropped).
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* buf;
    size_t size;
    uint32_t off, total;
    if (!ArgBytes(info, 0, &buf, &size) || !ArgU32(info, 1, &off) || !ArgU32(info, 2, &total)) return env.Undefined();
    if (total < kHeader + kTag || static_cast<uint64_t>(off) + total > size) return Napi::Number::New(env, -1);
    const uint32_t len = total - kHeader - kTag;
    uint8_t nonce[12];
    Nonce(buf + off, nonce);
    uint8_t* payload = buf + off + kHeader;
    int outl = 0;
    if (EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, nonce) != 1 ||
        (len > 0 && EVP_DecryptUpdate(dec_, payload, &outl, payload, static_cast<int>(len)) != 1) ||
        EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, kTag, payload + len) != 1 ||
        EVP_DecryptFinal_ex(dec_, payload + len, &outl) != 1)
      return Napi::Number::New(env, -1);
    return Napi::Number::New(env, len);
  }

  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

}  // namespace

void InitAead(Napi::Env env, Napi::Object exports) {
  exports.Set("TransportKey", TransportKey::Define(env));
}

}  // namespace tdn
