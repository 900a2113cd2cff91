import Foundation
import Tensor
import TestSupport
import Testing

// Loader for Fixtures/ops.json, the numpy references written by scripts/make_tensor_fixtures.py.
// A case is keyed "<op>/<label>" and holds float inputs, expected outputs, and int/float attributes.

/// One array of a fixture: its shape and row-major values.
struct FixtureArray: Decodable {
    let shape: [Int]
    let data: [Double]

    /// The values as float32 (inputs were rounded so both sides hold the same float32).
    var floats: [Float] { data.map { Float($0) } }

    /// A fresh tensor holding the values.
    func tensor(requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, values: floats, requiresGrad: requiresGrad)
    }
}

/// One op applied to fixed inputs, with its numpy result.
struct FixtureCase: Decodable {
    let op: String
    let inputs: [String: FixtureArray]
    let expected: [String: FixtureArray]
    let ints: [String: [Int]]
    let floats: [String: Double]

    /// Input `name` as a fresh tensor.
    func input(_ name: String) -> Tensor {
        guard let a = inputs[name] else { preconditionFailure("fixture \(op) has no input \(name)") }
        return a.tensor()
    }

    /// Inputs whose names start with `prefix`, ordered by name (concat's x0, x1, ...).
    func inputs(prefix: String) -> [Tensor] {
        inputs.keys.filter { $0.hasPrefix(prefix) }.sorted().map { inputs[$0]!.tensor() }
    }

    /// Expected array `name`.
    func output(_ name: String = "out") -> FixtureArray {
        guard let a = expected[name] else { preconditionFailure("fixture \(op) has no expected \(name)") }
        return a
    }

    /// Integer attribute list `name`.
    func intList(_ name: String) -> [Int] {
        guard let v = ints[name] else { preconditionFailure("fixture \(op) has no int attribute \(name)") }
        return v
    }

    /// Single integer attribute `name`.
    func int(_ name: String) -> Int { intList(name)[0] }

    /// Float attribute `name`.
    func float(_ name: String) -> Float {
        guard let v = floats[name] else { preconditionFailure("fixture \(op) has no float attribute \(name)") }
        return Float(v)
    }
}

private struct FixtureFile: Decodable {
    let version: Int
    let generator: String
    let cases: [String: FixtureCase]
}

enum FixtureError: Error, CustomStringConvertible {
    case missingFile
    case noCases(op: String)

    var description: String {
        switch self {
        case .missingFile: "Fixtures/ops.json is not in the test bundle (run scripts/make_tensor_fixtures.py)"
        case .noCases(let op): "Fixtures/ops.json has no cases for op \(op) (run scripts/make_tensor_fixtures.py)"
        }
    }
}

enum Fixtures {
    /// All cases, decoded once.
    static let all: Result<[String: FixtureCase], Error> = Result {
        guard let url = Bundle.module.url(forResource: "ops", withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError.missingFile
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(FixtureFile.self, from: Data(contentsOf: url)).cases
    }

    /// The cases of one op as (name, case), sorted by name; throws when there are none.
    static func cases(_ op: String) throws -> [(name: String, fixture: FixtureCase)] {
        let found = try all.get().filter { $0.value.op == op }.sorted { $0.key < $1.key }
        guard !found.isEmpty else { throw FixtureError.noCases(op: op) }
        return found.map { (name: $0.key, fixture: $0.value) }
    }
}

/// `allClose` of a tensor against a fixture array (shape and values).
@discardableResult
func allClose(_ actual: Tensor, _ expected: FixtureArray, rtol: Double, atol: Double, _ comment: String,
              sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    allClose(actual, expected.data, shape: expected.shape, rtol: rtol, atol: atol, comment,
             sourceLocation: sourceLocation)
}

/// Exact equality of a tensor with a fixture array for ops that only move or select values (the
/// fixture's 9 significant digits identify each float32 uniquely, so they are compared as float32).
@discardableResult
func allEqual(_ actual: Tensor, _ expected: FixtureArray, _ comment: String,
              sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard actual.shape == expected.shape else {
        Issue.record(Comment(rawValue: "\(comment): shape \(actual.shape) != expected shape \(expected.shape)"),
                     sourceLocation: sourceLocation)
        return false
    }
    return allClose(actual.toArray(), expected.floats, rtol: 0, atol: 0, comment, shape: expected.shape,
                    sourceLocation: sourceLocation)
}
