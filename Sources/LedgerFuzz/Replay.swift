#if !FUZZING
import Glibc

/// Without libFuzzer: runs each file named on the command line through the fuzz target.
@main
struct ReplayInputs {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let file = fopen(path, "rb") else { print("ledger-fuzz: cannot open \(path)"); exit(2) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while case let n = fread(&chunk, 1, chunk.count, file), n > 0 { bytes += chunk[0..<n] }
            fclose(file)
            bytes.withUnsafeBytes(fuzzOne)
            print("\(path): \(bytes.count) bytes, no crash")
        }
    }
}
#endif
