package dev.weir.peer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Payments as weir's fraud topology reads them (docs/fraud.md "Decisions"): validation with the
 * same rules and messages, the card token (HMAC-SHA256, first 16 bytes as hex), card masking.
 * The card number itself never leaves this class: a {@link Payment} holds its token and masked
 * form only.
 */
final class Payments {
  static final int MAX_FIELD_BYTES = 256;
  static final String DEVELOPMENT_KEY = "weir-development-card-token-key";

  /** A valid payment. {@code cardFingerprint} lets the topology check the record's key. */
  record Payment(
      String txnId,
      String maskedCard,
      long cardFingerprint,
      long amountCents,
      String merchant,
      String country,
      long ts) {}

  /** Why a record is not a payment. */
  static final class InvalidPayment extends Exception {
    InvalidPayment(String message) {
      super(message, null, false, false);
    }
  }

  private static final JsonFactory JSON = new JsonFactory();

  private Payments() {}

  /** Parses and validates one payment; the message never contains the card number. */
  static Payment parse(byte[] json) throws InvalidPayment {
    try {
      return parseFields(json);
    } catch (InvalidPayment invalid) {
      String truncated = truncation(json);
      throw truncated != null ? new InvalidPayment(truncated) : invalid;
    }
  }

  private static Payment parseFields(byte[] json) throws InvalidPayment {
    String txnId = null, card = null, merchant = null, country = null, currency = "";
    long amount = -1, ts = -1;
    try (JsonParser parser = JSON.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) throw new InvalidPayment("not a JSON object");
      for (JsonToken token = parser.nextToken(); token != JsonToken.END_OBJECT; token = parser.nextToken()) {
        if (token != JsonToken.FIELD_NAME) throw new InvalidPayment("not JSON");
        String key = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (key) {
          case "txn_id" -> txnId = string(parser, value, key);
          case "card" -> card = string(parser, value, key);
          case "merchant" -> merchant = string(parser, value, key);
          case "country" -> country = string(parser, value, key);
          case "currency" -> currency = string(parser, value, key);
          case "amount" -> {
            if (value != JsonToken.VALUE_NUMBER_INT && value != JsonToken.VALUE_NUMBER_FLOAT) {
              throw new InvalidPayment("field 'amount' must be a number");
            }
            amount = amountCents(parser.getText());
            if (amount <= 0) {
              throw new InvalidPayment("field 'amount' must be positive with at most 2 decimal places");
            }
          }
          case "ts" -> {
            if (value != JsonToken.VALUE_NUMBER_INT
                || parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                || parser.getLongValue() < 0) {
              throw new InvalidPayment("field 'ts' must be a non-negative integer (epoch ms)");
            }
            ts = parser.getLongValue();
          }
          default -> parser.skipChildren();
        }
      }
    } catch (IOException notJson) {
      throw new InvalidPayment("not JSON");
    }
    if (txnId == null) throw new InvalidPayment("missing field 'txn_id'");
    if (card == null) throw new InvalidPayment("missing field 'card'");
    if (amount < 0) throw new InvalidPayment("missing field 'amount'");
    if (merchant == null) throw new InvalidPayment("missing field 'merchant'");
    if (country == null) throw new InvalidPayment("missing field 'country'");
    if (ts < 0) throw new InvalidPayment("missing field 'ts'");
    if (card.length() < 12 || card.length() > 19 || !allDigits(card)) {
      throw new InvalidPayment("field 'card' must be 12-19 digits");
    }
    String[][] bounded = {{txnId, "txn_id"}, {merchant, "merchant"}, {country, "country"}, {currency, "currency"}};
    for (String[] field : bounded) {
      if (field[0].getBytes(StandardCharsets.UTF_8).length > MAX_FIELD_BYTES) {
        throw new InvalidPayment("field '" + field[1] + "' is longer than " + MAX_FIELD_BYTES + " bytes");
      }
    }
    return new Payment(txnId, maskCard(card), fingerprint(card), amount, merchant, country, ts);
  }

  private static String string(JsonParser parser, JsonToken value, String key)
      throws InvalidPayment, IOException {
    if (value != JsonToken.VALUE_STRING) throw new InvalidPayment("field '" + key + "' must be a string");
    return parser.getText();
  }

  /** "125.40" -> 12540; -1 unless a positive decimal with at most 2 places (weir's rule). */
  static long amountCents(String text) {
    int dot = text.indexOf('.');
    String whole = dot < 0 ? text : text.substring(0, dot);
    String fraction = dot < 0 ? "" : text.substring(dot + 1);
    if (whole.isEmpty() || whole.length() > 15 || fraction.length() > 2 || (dot >= 0 && fraction.isEmpty())) {
      return -1;
    }
    if (!allDigits(whole) || !(fraction.isEmpty() || allDigits(fraction))) return -1;
    long cents = Long.parseLong(whole) * 100;
    if (!fraction.isEmpty()) cents += Long.parseLong(fraction) * (fraction.length() == 1 ? 10 : 1);
    return cents > 0 ? cents : -1;
  }

  /** When the text starts an object it ends inside of, says so and where; null otherwise. */
  private static String truncation(byte[] json) {
    int first = 0;
    while (first < json.length && (json[first] == ' ' || json[first] == '\t' || json[first] == '\r' || json[first] == '\n')) {
      ++first;
    }
    if (first == json.length || json[first] != '{') return null;
    int depth = 0;
    boolean inString = false, escaped = false;
    for (int i = first; i < json.length; ++i) {
      byte c = json[i];
      if (inString) {
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return null;
      }
    }
    return "truncated JSON: the text ends at byte " + json.length
        + (inString ? " inside a string" : " inside an object");
  }

  static boolean allDigits(String text) {
    if (text.isEmpty()) return false;
    for (int i = 0; i < text.length(); ++i) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') return false;
    }
    return true;
  }

  /** "4111111111111111" -> "411111******1111". */
  static String maskCard(CharSequence card) {
    int n = card.length();
    if (n < 10) return "*".repeat(n);
    return card.subSequence(0, 6) + "*".repeat(n - 10) + card.subSequence(n - 4, n);
  }

  /** Every run of 12-19 digits masked, except the value of a JSON "ts" key (weir's rule). */
  static String maskCardNumbers(String text) {
    StringBuilder out = new StringBuilder(text.length());
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        out.append(c);
        ++i;
        continue;
      }
      int end = i;
      while (end < text.length() && text.charAt(end) >= '0' && text.charAt(end) <= '9') ++end;
      int length = end - i;
      boolean cardLike = length >= 12 && length <= 19 && !isTimestampValue(text, i);
      out.append(cardLike ? maskCard(text.subSequence(i, end)) : text.subSequence(i, end));
      i = end;
    }
    return out.toString();
  }

  private static boolean isTimestampValue(String text, int start) {
    int i = start;
    while (i > 0 && Character.isWhitespace(text.charAt(i - 1))) --i;
    if (i == 0 || text.charAt(i - 1) != ':') return false;
    --i;
    while (i > 0 && Character.isWhitespace(text.charAt(i - 1))) --i;
    return i >= 4 && text.startsWith("\"ts\"", i - 4);
  }

  /** A 64-bit fingerprint (FNV-1a) for comparing a key with a card in memory; never stored. */
  static long fingerprint(CharSequence text) {
    long hash = 0xcbf29ce484222325L;
    for (int i = 0; i < text.length(); ++i) {
      hash ^= text.charAt(i);
      hash *= 0x100000001b3L;
    }
    return hash;
  }

  static long fingerprint(byte[] bytes) {
    long hash = 0xcbf29ce484222325L;
    for (byte b : bytes) {
      hash ^= (b & 0xff);
      hash *= 0x100000001b3L;
    }
    return hash;
  }

  /** The card token: one keyed Mac per thread (Mac is not thread-safe), 32 hex characters. */
  static final class Tokenizer {
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    private final SecretKeySpec key;
    private final ThreadLocal<Mac> mac;

    Tokenizer(String key) {
      this.key = new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
      this.mac = ThreadLocal.withInitial(this::newMac);
    }

    static Tokenizer fromEnvironment(String variable) {
      String key = System.getenv(variable);
      if (key == null || key.isEmpty()) {
        System.err.println(variable + " is not set: card tokens use weir's fixed development key");
        key = DEVELOPMENT_KEY;
      }
      return new Tokenizer(key);
    }

    private Mac newMac() {
      try {
        Mac m = Mac.getInstance("HmacSHA256");
        m.init(key);
        return m;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("HMAC-SHA256 is unavailable", e);
      }
    }

    String token(byte[] card) {
      byte[] digest = mac.get().doFinal(card);
      char[] hex = new char[32];
      for (int i = 0; i < 16; ++i) {
        hex[2 * i] = HEX[(digest[i] >> 4) & 0xf];
        hex[2 * i + 1] = HEX[digest[i] & 0xf];
      }
      return new String(hex);
    }
  }
}
