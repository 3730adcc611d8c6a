using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using static TorchSharp.torch;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// Reads state dicts saved by <c>torch.save</c> before PyTorch 1.6 (the "legacy" format), which TorchSharp.PyBridge refuses:
/// torchvision's published DenseNet and VGG checkpoints (densenet201-c1103571.pth, vgg16-397923af.pth) are in it. The file is a
/// run of pickles (magic number, protocol version, system info, the state dict with storages as persistent ids, the list of storage
/// keys) followed by each storage's element count (int64) and raw little-endian bytes.
/// Only what a state dict needs is understood: an (ordered) dict of tensors rebuilt by <c>torch._utils._rebuild_tensor</c> (PyTorch
/// 0.2-0.3) or <c>_rebuild_tensor_v2</c>; anything else (a pickled model, arbitrary classes) is refused, and nothing is ever executed.
/// </summary>
internal static class LegacyTorchCheckpoint
{
    private const long MagicNumber = 0x1950a86a20f9469c; // 0x1950a86a20f9469cfc6c, compared below as a big integer
    private const int ProtocolVersion = 1001;

    /// <summary>Reads every tensor; the caller disposes them.</summary>
    /// <exception cref="InvalidDataException">Not a legacy PyTorch state dict.</exception>
    public static Dictionary<string, Tensor> Read(Stream stream)
    {
        var input = new BufferedStream(stream, 1 << 16);
        var magic = new PickleReader(input).Load();
        if (magic is not System.Numerics.BigInteger big || big != (new System.Numerics.BigInteger(MagicNumber) << 16 | 0xfc6c))
        {
            throw new InvalidDataException("not a PyTorch checkpoint (no legacy magic number, and not a zip archive)");
        }

        if (new PickleReader(input).Load() is not long protocol || protocol != ProtocolVersion)
        {
            throw new InvalidDataException("unsupported legacy PyTorch protocol version");
        }

        if (new PickleReader(input).Load() is Dictionary<object, object?> sysInfo && sysInfo.TryGetValue("little_endian", out var little) && little is false)
        {
            throw new InvalidDataException("big-endian PyTorch checkpoints are not supported");
        }

        var main = new PickleReader(input);
        var root = main.Load();
        if (root is not Dictionary<object, object?> dict)
        {
            throw new InvalidDataException($"the checkpoint holds a {Describe(root)}, not a state dict; save model.state_dict()");
        }

        if (new PickleReader(input).Load() is not List<object?> keys)
        {
            throw new InvalidDataException("the storage key list is missing");
        }

        var storages = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            var count = new byte[8];
            foreach (var keyObject in keys)
            {
                var key = keyObject as string ?? throw new InvalidDataException("a storage key is not a string");
                if (!main.Storages.TryGetValue(key, out var storage))
                {
                    throw new InvalidDataException($"storage {key} is listed but never used");
                }

                input.ReadExactly(count);
                var elements = BinaryPrimitives.ReadInt64LittleEndian(count);
                if (elements != storage.Elements)
                {
                    throw new InvalidDataException($"storage {key} holds {elements} elements, {storage.Elements} expected");
                }

                var bytes = new byte[checked(elements * ElementSize(storage.Type))];
                input.ReadExactly(bytes);
                var flat = empty([elements], storage.Type);
                flat.bytes = bytes;
                storages[key] = flat;
            }

            foreach (var (name, value) in dict)
            {
                if (name is not string key || value is not TensorRecipe recipe)
                {
                    throw new InvalidDataException($"entry '{name}' is a {Describe(value)}, not a tensor; save model.state_dict()");
                }

                if (!storages.TryGetValue(recipe.Storage.Key, out var flat))
                {
                    throw new InvalidDataException($"the data of '{key}' is missing");
                }

                var offset = recipe.Offset + recipe.Storage.ViewOffset;
                if (offset == 0 && recipe.Size.Aggregate(1L, (a, b) => a * b) == flat.numel() && IsContiguous(recipe.Size, recipe.Stride))
                {
                    // The usual case, a tensor that is its whole storage: share it (VGG16's largest tensor alone is 411 MB).
                    result[key] = flat.view(recipe.Size);
                }
                else
                {
                    using var view = flat.as_strided(recipe.Size, recipe.Stride, offset);
                    result[key] = view.clone();
                }
            }

            return result;
        }
        catch
        {
            foreach (var tensor in result.Values)
            {
                tensor.Dispose();
            }

            throw;
        }
        finally
        {
            foreach (var tensor in storages.Values)
            {
                tensor.Dispose();
            }
        }
    }

    private static bool IsContiguous(long[] size, long[] stride)
    {
        var expected = 1L;
        for (var i = size.Length - 1; i >= 0; i--)
        {
            if (size[i] != 1 && stride[i] != expected)
            {
                return false;
            }

            expected *= size[i];
        }

        return true;
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        PickleReader.Global g => $"{g.Module}.{g.Name}",
        PickleReader.Reduced r => $"{r.Callable.Module}.{r.Callable.Name} object",
        _ => value.GetType().Name,
    };

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    private static ScalarType StorageType(string name) => name switch
    {
        "FloatStorage" => ScalarType.Float32,
        "DoubleStorage" => ScalarType.Float64,
        "HalfStorage" => ScalarType.Float16,
        "BFloat16Storage" => ScalarType.BFloat16,
        "LongStorage" => ScalarType.Int64,
        "IntStorage" => ScalarType.Int32,
        "ShortStorage" => ScalarType.Int16,
        "CharStorage" => ScalarType.Int8,
        "ByteStorage" => ScalarType.Byte,
        "BoolStorage" => ScalarType.Bool,
        _ => throw new InvalidDataException($"unsupported storage type torch.{name}"),
    };

    private sealed record StorageRecord(string Key, ScalarType Type, long Elements, long ViewOffset);

    private sealed record TensorRecipe(StorageRecord Storage, long Offset, long[] Size, long[] Stride);

    /// <summary>
    /// A pickle reader for the opcodes <c>torch.save</c> emits for a state dict (protocols 2-4). It builds plain values (strings,
    /// numbers, lists, tuples, dicts) and knows three callables; it never resolves or runs anything else.
    /// </summary>
    private sealed class PickleReader(Stream input)
    {
        private readonly Stack<object?> _stack = new();
        private readonly Stack<int> _marks = new();
        private readonly Dictionary<long, object?> _memo = [];

        public Dictionary<string, StorageRecord> Storages { get; } = new(StringComparer.Ordinal);

        public object? Load()
        {
            while (true)
            {
                var op = ReadByte();
                switch (op)
                {
                    case 0x80: ReadByte(); break; // PROTO
                    case 0x95: Read(8); break; // FRAME
                    case (byte)'.': return _stack.Pop(); // STOP
                    case (byte)'(': _marks.Push(_stack.Count); break; // MARK
                    case (byte)'N': _stack.Push(null); break;
                    case 0x88: _stack.Push(true); break;
                    case 0x89: _stack.Push(false); break;
                    case (byte)'K': _stack.Push((long)ReadByte()); break; // BININT1
                    case (byte)'M': _stack.Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2))); break; // BININT2
                    case (byte)'J': _stack.Push((long)BinaryPrimitives.ReadInt32LittleEndian(Read(4))); break; // BININT
                    case 0x8a: _stack.Push(Long(Read(ReadByte()))); break; // LONG1
                    case 0x8b: _stack.Push(Long(Read(BinaryPrimitives.ReadInt32LittleEndian(Read(4))))); break; // LONG4
                    case (byte)'G': _stack.Push(BinaryPrimitives.ReadDoubleBigEndian(Read(8))); break; // BINFLOAT
                    case (byte)'X': _stack.Push(Encoding.UTF8.GetString(Read(BinaryPrimitives.ReadInt32LittleEndian(Read(4))))); break; // BINUNICODE
                    case 0x8c: _stack.Push(Encoding.UTF8.GetString(Read(ReadByte()))); break; // SHORT_BINUNICODE
                    case (byte)'T': _stack.Push(Encoding.Latin1.GetString(Read(BinaryPrimitives.ReadInt32LittleEndian(Read(4))))); break; // BINSTRING
                    case (byte)'U': _stack.Push(Encoding.Latin1.GetString(Read(ReadByte()))); break; // SHORT_BINSTRING
                    case (byte)'C': _stack.Push(Read(ReadByte())); break; // SHORT_BINBYTES
                    case (byte)'B': _stack.Push(Read(BinaryPrimitives.ReadInt32LittleEndian(Read(4)))); break; // BINBYTES
                    case (byte)')': _stack.Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                    case (byte)']': _stack.Push(new List<object?>()); break; // EMPTY_LIST
                    case (byte)'}': _stack.Push(new Dictionary<object, object?>()); break; // EMPTY_DICT
                    case (byte)'t': _stack.Push(PopMark().ToArray()); break; // TUPLE
                    case 0x85: _stack.Push(new[] { _stack.Pop() }); break; // TUPLE1
                    case 0x86: { var b = _stack.Pop(); var a = _stack.Pop(); _stack.Push(new[] { a, b }); break; } // TUPLE2
                    case 0x87: { var c = _stack.Pop(); var b = _stack.Pop(); var a = _stack.Pop(); _stack.Push(new[] { a, b, c }); break; } // TUPLE3
                    case (byte)'l': _stack.Push(PopMark()); break; // LIST
                    case (byte)'a': { var v = _stack.Pop(); ((List<object?>)_stack.Peek()!).Add(v); break; } // APPEND
                    case (byte)'e': { var items = PopMark(); ((List<object?>)_stack.Peek()!).AddRange(items); break; } // APPENDS
                    case (byte)'d': { var items = PopMark(); var d = new Dictionary<object, object?>(); SetItems(d, items); _stack.Push(d); break; } // DICT
                    case (byte)'s': { var v = _stack.Pop(); var k = _stack.Pop(); SetItems(_stack.Peek(), [k, v]); break; } // SETITEM
                    case (byte)'u': { var items = PopMark(); SetItems(_stack.Peek(), items); break; } // SETITEMS
                    case (byte)'q': _memo[ReadByte()] = _stack.Peek(); break; // BINPUT
                    case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Read(4))] = _stack.Peek(); break; // LONG_BINPUT
                    case 0x94: _memo[_memo.Count] = _stack.Peek(); break; // MEMOIZE
                    case (byte)'h': _stack.Push(_memo[ReadByte()]); break; // BINGET
                    case (byte)'j': _stack.Push(_memo[BinaryPrimitives.ReadUInt32LittleEndian(Read(4))]); break; // LONG_BINGET
                    case (byte)'c': _stack.Push(new Global(ReadLine(), ReadLine())); break; // GLOBAL
                    case 0x93: { var name = (string)_stack.Pop()!; var module = (string)_stack.Pop()!; _stack.Push(new Global(module, name)); break; } // STACK_GLOBAL
                    case (byte)'Q': _stack.Push(PersistentLoad(_stack.Pop())); break; // BINPERSID
                    case (byte)'R': { var args = (object?[])_stack.Pop()!; var callable = _stack.Pop(); _stack.Push(Reduce(callable, args)); break; } // REDUCE
                    case 0x81: { var args = (object?[])_stack.Pop()!; var cls = _stack.Pop(); _stack.Push(Reduce(cls, args)); break; } // NEWOBJ
                    case (byte)'b': _stack.Pop(); break; // BUILD: the state of an OrderedDict (its _metadata) is not needed
                    default:
                        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"unsupported pickle opcode 0x{op:x2} at byte {input.Position - 1}"));
                }
            }
        }

        private static object Reduce(object? callable, object?[] args)
        {
            if (callable is not Global g)
            {
                throw new InvalidDataException("a pickled call to something other than a named function");
            }

            switch (g.Module, g.Name)
            {
                case ("collections", "OrderedDict"):
                    // Python 3 pickles the items afterwards (SETITEMS); Python 2 passes them as a list of [key, value] pairs.
                    var dict = new Dictionary<object, object?>();
                    if (args is [List<object?> pairs, ..])
                    {
                        foreach (var pair in pairs)
                        {
                            SetItems(dict, pair as List<object?> ?? (pair as object?[])?.ToList() ?? throw new InvalidDataException("an OrderedDict item is not a pair"));
                        }
                    }

                    return dict;
                case ("torch._utils", "_rebuild_tensor" or "_rebuild_tensor_v2"):
                    if (args.Length < 4 || args[0] is not StorageRecord storage)
                    {
                        throw new InvalidDataException($"unexpected arguments to {g.Module}.{g.Name}");
                    }

                    return new TensorRecipe(storage, (long)args[1]!, Longs(args[2]), Longs(args[3]));
                case ("torch._utils", "_rebuild_parameter"):
                    return args[0] ?? throw new InvalidDataException("an empty parameter");
                default:
                    return new Reduced(g, args);
            }
        }

        private StorageRecord PersistentLoad(object? pid)
        {
            // ('storage', torch.FloatStorage, key, location, element count, view metadata or None)
            if (pid is not object?[] { Length: >= 5 } id || id[0] is not "storage" || id[1] is not Global type || id[2] is not string key || id[4] is not long elements)
            {
                throw new InvalidDataException("an unsupported persistent object (only tensor storages are)");
            }

            if (!Storages.TryGetValue(key, out var storage))
            {
                storage = new StorageRecord(key, StorageType(type.Name), elements, 0);
                Storages[key] = storage;
            }

            // A view into another storage: (view key, offset, size), read through its root.
            return id.Length > 5 && id[5] is object?[] { Length: 3 } view && view[1] is long offset
                ? storage with { ViewOffset = offset }
                : storage;
        }

        private static long[] Longs(object? tuple) =>
            tuple is object?[] items ? items.Select(i => i is long l ? l : throw new InvalidDataException("a tensor size or stride is not an integer")).ToArray() : throw new InvalidDataException("a tensor size or stride is not a tuple");

        private static void SetItems(object? target, List<object?> items)
        {
            if (target is not Dictionary<object, object?> dict)
            {
                throw new InvalidDataException("items set on something other than a dict");
            }

            for (var i = 0; i + 1 < items.Count; i += 2)
            {
                dict[items[i] ?? "None"] = items[i + 1];
            }
        }

        // Small integers as long (what the rest of the reader expects), larger ones (the magic number) as BigInteger.
#pragma warning disable CA1859 // It returns a long or a BigInteger, by design.
        private static object Long(byte[] bytes)
        {
            var value = new System.Numerics.BigInteger(bytes, isUnsigned: false, isBigEndian: false);
            if (value >= long.MinValue && value <= long.MaxValue)
            {
                return (long)value;
            }

            return value;
        }
#pragma warning restore CA1859

        private List<object?> PopMark()
        {
            var mark = _marks.Pop();
            var items = new List<object?>(_stack.Count - mark);
            while (_stack.Count > mark)
            {
                items.Add(_stack.Pop());
            }

            items.Reverse();
            return items;
        }

        private byte ReadByte()
        {
            var b = input.ReadByte();
            return b < 0 ? throw new EndOfStreamException("the checkpoint ends inside a pickle") : (byte)b;
        }

        private byte[] Read(int length)
        {
            var buffer = new byte[length];
            input.ReadExactly(buffer);
            return buffer;
        }

        private string ReadLine()
        {
            var text = new StringBuilder();
            for (var b = ReadByte(); b != (byte)'\n'; b = ReadByte())
            {
                text.Append((char)b);
            }

            return text.ToString();
        }

        public sealed record Global(string Module, string Name);

        public sealed record Reduced(Global Callable, object?[] Arguments);
    }
}
