// The addon's second compute function (DESIGN.md: only where a benchmark
// shows it wins; bench/aead.ts measures it against node:crypto): AEAD over
// one overlay datagram, in place, with the OpenSSL that Node.js itself is
// built with (its headers ship with Node's; its symbols are Node's own).
//
// An AeadKey holds one key's cipher contexts, so a datagram costs an IV
// set-up and the cipher, not a key schedule or an allocation. The datagram
// layout is the overlay's (src/crypto/sealed-datagram.ts):
//   [16-byte header: the AAD; bytes 8..15 the counter] [payload] [16-byte tag]
// The 12-byte nonce is 4 zero bytes followed by the header's counter.
#include <openssl/evp.h>
#include <string.h>

#include "aead.h"
#include "errors.h"

namespace tdn {
namespace {

constexpr size_t kHeader = 16;
constexpr size_t kTag = 16;
constexpr size_t kKey = 32;

class AeadKey : public Napi::ObjectWrap<AeadKey> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AeadKey", {InstanceMethod("seal", &AeadKey::Seal), InstanceMethod("sealBatch", &AeadKey::SealBatch), InstanceMethod("open", &AeadKey::Open)});
  }

  // new AeadKey(algorithm: 0 = ChaCha20-Poly1305, 1 = AES-256-GCM, key: 32 bytes)
  explicit AeadKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AeadKey>(info) {
    Napi::Env env = info.Env();
    uint32_t alg;
    uint8_t* key;
    size_t keyLen;
    if (!ArgU32(info, 0, &alg) || !ArgBytes(info, 1, &key, &keyLen)) return;
    if (alg > 1 || keyLen != kKey) {
      ThrowArg(env, "AeadKey(algorithm 0|1, key of 32 bytes)");
      return;
    }
    const EVP_CIPHER* cipher = alg == 0 ? EVP_chacha20_poly1305() : EVP_aes_256_gcm();
    enc_ = EVP_CIPHER_CTX_new();
    dec_ = EVP_CIPHER_CTX_new();
    if (!enc_ || !dec_ || EVP_EncryptInit_ex(enc_, cipher, nullptr, key, nullptr) != 1 ||
        EVP_DecryptInit_ex(dec_, cipher, nullptr, key, nullptr) != 1)
      ThrowArg(env, "AeadKey: OpenSSL refused the cipher or key");
  }

  ~AeadKey() override {
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
  }

 private:
  static void Nonce(const uint8_t* header, uint8_t* nonce) {
    memset(nonce, 0, 4);
    memcpy(nonce + 4, header + 8, 8);
  }

  // Seals the datagram at `datagram` (header written): the `len` plaintext
  // bytes at `from` (the payload itself when in place) are encrypted into
  // the payload, and the tag follows it.
  bool SealOne(uint8_t* datagram, const uint8_t* from, uint32_t len) {
    uint8_t nonce[12];
    Nonce(datagram, nonce);
    uint8_t* payload = datagram + kHeader;
    int outl = 0;
    return EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce) == 1 &&
           EVP_EncryptUpdate(enc_, nullptr, &outl, datagram, kHeader) == 1 &&
           EVP_EncryptUpdate(enc_, payload, &outl, from, static_cast<int>(len)) == 1 &&
           EVP_EncryptFinal_ex(enc_, payload + outl, &outl) == 1 &&
           EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, kTag, payload + len) == 1;
  }

  // sealBatch(buf, offsets, lengths, first, count, epoch, counter
  //           [, src, srcOffsets, srcFirst]): datagrams i in
  // [first, first+count) are buf[offsets[i], offsets[i]+lengths[i]),
  // lengths counting the header and tag; each gets the sealed header (type
  // 1, `epoch`, counter + i - first) and is sealed. The plaintext is the
  // datagram's own payload (in place), or with `src` the packet at
  // src[srcOffsets[srcFirst + i - first]], encrypted straight into the
  // datagram: no copy first. One call per run of datagrams to one peer.
  Napi::Value SealBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* buf;
    size_t size, nOff, nLen;
    uint32_t* offsets;
    uint32_t* lengths;
    uint32_t first, count;
    if (!ArgBytes(info, 0, &buf, &size) || !ArgU32Array(info, 1, &offsets, &nOff) || !ArgU32Array(info, 2, &lengths, &nLen) ||
        !ArgU32(info, 3, &first) || !ArgU32(info, 4, &count))
      return env.Undefined();
    if (!info[5].IsNumber() || !info[6].IsNumber()) {
      ThrowArg(env, "sealBatch: epoch and counter must be numbers");
      return env.Undefined();
    }
    const uint64_t epoch = static_cast<uint64_t>(info[5].As<Napi::Number>().DoubleValue());
    uint64_t counter = static_cast<uint64_t>(info[6].As<Napi::Number>().DoubleValue());
    if (static_cast<uint64_t>(first) + count > nOff || static_cast<uint64_t>(first) + count > nLen) {
      ThrowArg(env, "sealBatch: first + count exceeds the arrays");
      return env.Undefined();
    }
    uint8_t* src = nullptr;
    size_t srcSize = 0, nSrcOff = 0;
    uint32_t* srcOffsets = nullptr;
    uint32_t srcFirst = 0;
    if (info.Length() > 7 && !info[7].IsUndefined()) {
      if (!ArgBytes(info, 7, &src, &srcSize) || !ArgU32Array(info, 8, &srcOffsets, &nSrcOff) || !ArgU32(info, 9, &srcFirst))
        return env.Undefined();
      if (static_cast<uint64_t>(srcFirst) + count > nSrcOff) {
        ThrowArg(env, "sealBatch: srcFirst + count exceeds srcOffsets");
        return env.Undefined();
      }
    }
    for (uint32_t i = first; i < first + count; i++, counter++) {
      const uint64_t off = offsets[i], total = lengths[i];
      if (total < kHeader + kTag || off + total > size) {
        ThrowArg(env, "sealBatch: a datagram does not fit the buffer");
        return env.Undefined();
      }
      const uint64_t len = total - kHeader - kTag;
      const uint8_t* from = buf + off + kHeader;
      if (src) {
        const uint64_t at = srcOffsets[srcFirst + (i - first)];
        if (at + len > srcSize) {
          ThrowArg(env, "sealBatch: a source packet does not fit src");
          return env.Undefined();
        }
        from = src + at;
      }
      uint8_t* d = buf + off;
      d[0] = 1;
      d[1] = 0;
      for (int b = 0; b < 6; b++) d[2 + b] = static_cast<uint8_t>(epoch >> (8 * (5 - b)));
      for (int b = 0; b < 8; b++) d[8 + b] = static_cast<uint8_t>(counter >> (8 * (7 - b)));
      if (!SealOne(d, from, static_cast<uint32_t>(len))) {
        ThrowArg(env, "sealBatch: OpenSSL failed");
        return env.Undefined();
      }
    }
    return env.Undefined();
  }

  // seal(buf, off, payloadLength): encrypts buf[off+16, off+16+len) in
  // place (the header at buf[off] is the AAD) and writes the tag after it.
  Napi::Value Seal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* buf;
    size_t size;
    uint32_t off, len;
    if (!ArgBytes(info, 0, &buf, &size) || !ArgU32(info, 1, &off) || !ArgU32(info, 2, &len)) return env.Undefined();
    if (static_cast<uint64_t>(off) + kHeader + len + kTag > size) {
      ThrowArg(env, "seal: the datagram does not fit the buffer");
      return env.Undefined();
    }
    if (!SealOne(buf + off, buf + off + kHeader, len)) ThrowArg(env, "seal: OpenSSL failed");
    return env.Undefined();
  }

  // open(buf, off, datagramLength) -> payload length, or -1 when the tag
  // does not verify (the payload is then garbage and must be dropped).
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
        EVP_DecryptUpdate(dec_, nullptr, &outl, buf + off, kHeader) != 1 ||
        EVP_DecryptUpdate(dec_, payload, &outl, payload, static_cast<int>(len)) != 1 ||
        EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, kTag, payload + len) != 1 ||
        EVP_DecryptFinal_ex(dec_, payload + outl, &outl) != 1)
      return Napi::Number::New(env, -1);
    return Napi::Number::New(env, len);
  }

  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

}  // namespace

void InitAead(Napi::Env env, Napi::Object exports) {
  exports.Set("AeadKey", AeadKey::Define(env));
}

}  // namespace tdn
