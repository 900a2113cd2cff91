import FileErrors
import Foundation

/// The weights of a Hugging Face model folder: `model.safetensors`, or `model.safetensors.index.json` whose
/// `weight_map` names the shard holding each tensor. Every shard is opened and validated up front, and every
/// tensor the index names is checked to be in its shard.
public final class SafetensorsModel: @unchecked Sendable {
    /// The folder the model was opened from.
    public let folder: String
    /// The index file's path, or nil for a single `model.safetensors`.
    public let indexPath: String?

    /// Tensor name -> the file holding it.
    private let location: [String: SafetensorsFile]

    /// The single-file weights' name in a Hugging Face folder.
    public static let singleFileName = "model.safetensors"
    /// The sharded weights' index name in a Hugging Face folder.
    public static let indexFileName = "model.safetensors.index.json"

    /// Opens the weights in `folder`.
    /// - Throws: `ModelFileError.unreadable` when the folder is missing, holds neither weights file, or the index
    ///   names a shard that is not there; `.malformed` for an index that is not JSON; `.badKey` for an index
    ///   without a `weight_map` or with a shard path outside the folder; `.missingTensor` when a shard lacks a
    ///   tensor the index assigns it; any `SafetensorsFile` error of a shard.
    public init(folder: String) throws {
        self.folder = folder
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw ModelFileError.unreadable(file: folder, reason: "no such folder")
        }
        guard isDirectory.boolValue else {
            throw ModelFileError.unreadable(
                file: folder, reason: "is a file, not a model folder; give the folder holding \(Self.singleFileName) or \(Self.indexFileName)")
        }
        let index = folder + "/" + Self.indexFileName
        let single = folder + "/" + Self.singleFileName
        if FileManager.default.fileExists(atPath: index) {
            indexPath = index
            location = try Self.openShards(index: index, folder: folder)
        } else if FileManager.default.fileExists(atPath: single) {
            indexPath = nil
            let file = try SafetensorsFile(path: single)
            location = Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, file) })
        } else {
            throw ModelFileError.unreadable(
                file: folder,
                reason: "holds neither \(Self.singleFileName) nor \(Self.indexFileName); download the model's safetensors weights (PyTorch .bin weights are not read)")
        }
    }

    /// All tensor names (the index's weight_map keys, or the single file's), sorted.
    public var tensorNames: [String] { location.keys.sorted() }

    /// Where tensor `name` lies (its `file` is the shard).
    /// - Throws: `ModelFileError.missingTensor` naming the folder when no shard holds it.
    public func info(_ name: String) throws -> SafetensorsTensorInfo { try file(for: name).info(name) }

    /// The tensor's values as float32 (F32, F16, BF16), row-major.
    /// - Throws: `missingTensor`; `unsupported` for other dtypes.
    public func floats(_ name: String) throws -> [Float] { try file(for: name).floats(name) }

    /// Reads the tensor as float32 into caller memory; `count` must be its element count.
    /// - Throws: `missingTensor`; `tensorShape` for a wrong `count`; `unsupported` for other dtypes.
    public func read(_ name: String, into destination: UnsafeMutablePointer<Float>, count: Int) throws {
        try file(for: name).read(name, into: destination, count: count)
    }

    private func file(for name: String) throws -> SafetensorsFile {
        guard let file = location[name] else { throw ModelFileError.missingTensor(file: folder, tensor: name) }
        return file
    }

    /// The index's weight_map (`transformers`' layout: {"metadata": {...}, "weight_map": {tensor: shard}}).
    private struct Index: Decodable {
        let weight_map: [String: String]?
    }

    /// Opens every shard the index names and checks each holds its tensors.
    private static func openShards(index: String, folder: String) throws -> [String: SafetensorsFile] {
        let data: Data
        do {
            data = try ReadFailure.contents(of: index)
        } catch let e as ReadFailure {
            throw ModelFileError.unreadable(file: index, reason: e.reason)
        }
        let parsed: Index
        do {
            parsed = try JSONDecoder().decode(Index.self, from: data)
        } catch {
            throw ModelFileError.malformed(file: index, offset: 0, reason: "not a weight index JSON object: \(error)")
        }
        guard let weightMap = parsed.weight_map else {
            throw ModelFileError.badKey(file: index, key: "weight_map",
                                        reason: "is missing; a sharded model's index maps each tensor to its shard file")
        }
        var shards: [String: SafetensorsFile] = [:]
        var location: [String: SafetensorsFile] = [:]
        for (tensor, shard) in weightMap.sorted(by: { $0.key < $1.key }) {
            guard !shard.isEmpty, !shard.hasPrefix("/"), !shard.split(separator: "/").contains("..") else {
                throw ModelFileError.badKey(file: index, key: "weight_map.\(tensor)",
                                            reason: "names shard \"\(shard)\", which is not a file inside the model folder")
            }
            let file: SafetensorsFile
            if let open = shards[shard] {
                file = open
            } else {
                let path = folder + "/" + shard
                guard FileManager.default.fileExists(atPath: path) else {
                    throw ModelFileError.unreadable(
                        file: path, reason: "is missing, but \(indexFileName) puts tensor \(tensor) in it; download every shard the index names")
                }
                file = try SafetensorsFile(path: path)
                shards[shard] = file
            }
            guard file.contains(tensor) else {
                throw ModelFileError.missingTensor(file: file.path, tensor: tensor)
            }
            location[tensor] = file
        }
        return location
    }
}
