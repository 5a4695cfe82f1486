/// Text made safe to show a person: characters that do not print, or that change how a
/// terminal shows what follows them, are written as escapes.
///
/// A name or comment comes from input and is kept as given, but shown raw on a terminal an ESC
/// sequence would recolour or rewrite the screen, a CR or LF would fake extra lines, and a bidi
/// override would reverse the text after it. Escaped here: C0 controls and DEL (`\n`, `\r`,
/// `\t` by name, the rest as `\u{1B}`), C1 controls, the bidi embeddings, overrides and
/// isolates (U+202A–U+202E, U+2066–U+2069), the direction marks (U+200E, U+200F, U+061C), the
/// zero-width characters and the byte order mark (U+200B–U+200D, U+2060, U+FEFF), and the line
/// and paragraph separators (U+2028, U+2029). JSON output escapes what JSON must and needs none
/// of this.
public enum Printable {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x200B...0x200F, 0x2028...0x202E, 0x2060, 0x2066...0x2069, 0x061C, 0xFEFF: true
        default: false
        }
    }
}
