using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PokeClassifier.Data;

/// <summary>
/// Resizes opaque RGBA pixels with a separable Mitchell-Netravali cubic (B = C = 1/3, the filter Skia's high-quality bicubic uses),
/// stretched by the reduction factor when shrinking so that every source pixel contributes (no aliasing), edges clamped.
/// </summary>
/// <remarks>
/// All arithmetic after the filter weights is integer (weights in 14-bit fixed point summing exactly to one, 7 fractional bits kept
/// between the horizontal and the vertical pass), and the weights come from the same double-precision formula everywhere, so the
/// output bytes are the same on every CPU and instruction set: a feature cache shared by machines of different kinds holds one
/// set of pixels per file. An axis whose size does not change is copied, not filtered.
/// </remarks>
internal static class Resampler
{
    private const int WeightBits = 14;
    private const int KeptBits = 7;
    private const int HorizontalShift = WeightBits - KeptBits;
    private const int VerticalShift = WeightBits + KeptBits;
    private const int MaxIntermediate = 255 << KeptBits;

    /// <summary>Resizes <paramref name="source"/> (opaque RGBA, rows <paramref name="sourceStride"/> bytes apart) into <paramref name="target"/> (RGBA, packed rows).</summary>
    public static void Resize(ReadOnlySpan<byte> source, int sourceWidth, int sourceHeight, int sourceStride, Span<byte> target, int targetWidth, int targetHeight)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetHeight);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceStride, sourceWidth * 4);
        ArgumentOutOfRangeException.ThrowIfLessThan(source.Length, (sourceStride * (sourceHeight - 1)) + (sourceWidth * 4), nameof(source));
        ArgumentOutOfRangeException.ThrowIfLessThan(target.Length, targetWidth * targetHeight * 4, nameof(target));

        var columns = Taps.For(sourceWidth, targetWidth);
        var rows = Taps.For(sourceHeight, targetHeight);
        var rowLength = targetWidth * 4;
        var intermediate = ArrayPool<ushort>.Shared.Rent(sourceHeight * rowLength);
        try
        {
            for (var y = 0; y < sourceHeight; y++)
            {
                Horizontal(source.Slice(y * sourceStride, sourceWidth * 4), columns, intermediate.AsSpan(y * rowLength, rowLength));
            }

            for (var y = 0; y < targetHeight; y++)
            {
                Vertical(intermediate, rowLength, rows, y, target.Slice(y * rowLength, rowLength));
            }
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(intermediate);
        }
    }

    /// <summary>The Mitchell-Netravali cubic with B = C = 1/3; zero from 2 on.</summary>
    internal static double Mitchell(double x)
    {
        const double b = 1.0 / 3, c = 1.0 / 3;
        x = Math.Abs(x);
        if (x < 1)
        {
            return (((12 - (9 * b) - (6 * c)) * x * x * x) + ((-18 + (12 * b) + (6 * c)) * x * x) + (6 - (2 * b))) / 6;
        }

        if (x >= 2)
        {
            return 0;
        }

        return ((((-b) - (6 * c)) * x * x * x) + (((6 * b) + (30 * c)) * x * x) + (((-12 * b) - (48 * c)) * x) + ((8 * b) + (24 * c))) / 6;
    }

    /// <summary>One row: for each output pixel, the weighted sum of its source pixels, kept with 7 fractional bits and clamped to 0..255 (so it fits 16 bits).</summary>
    /// <remarks>Reads through references without bounds checks: every index of <paramref name="taps"/> is within the row (clamped when the taps were made), checked here by length.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Horizontal(ReadOnlySpan<byte> row, Taps taps, Span<ushort> output)
    {
        if (row.Length < taps.Source * 4 || output.Length < taps.Outputs * 4)
        {
            throw new ArgumentException("The row or the output is shorter than the taps need.");
        }

        var width = taps.Width;
        ref var source = ref MemoryMarshal.GetReference(row);
        ref var index = ref MemoryMarshal.GetArrayDataReference(taps.Index);
        ref var weight = ref MemoryMarshal.GetArrayDataReference(taps.Weight);
        ref var target = ref MemoryMarshal.GetReference(output);
        var round = Vector128.Create(1 << (HorizontalShift - 1));
        var max = Vector128.Create(MaxIntermediate);
        for (var o = 0; o < taps.Outputs; o++)
        {
            var acc = Vector128<int>.Zero;
            var k0 = o * width;
            for (var k = k0; k < k0 + width; k++)
            {
                var word = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref source, Unsafe.Add(ref index, k) * 4));
                var channels = Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalarUnsafe(word).AsByte())).AsInt32();
                acc += channels * Unsafe.Add(ref weight, k);
            }

            var value = Vector128.Min(Vector128.Max(Vector128.ShiftRightArithmetic(acc + round, HorizontalShift), Vector128<int>.Zero), max);
            Unsafe.WriteUnaligned(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref target, o * 4)), Vector128.Narrow(value, value).AsUInt64().ToScalar());
        }
    }

    /// <summary>One output row: the weighted sum of intermediate rows, rounded to bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Vertical(ushort[] intermediate, int rowLength, Taps taps, int y, Span<byte> output)
    {
        var width = taps.Width;
        Span<int> offsets = stackalloc int[width];
        Span<int> weights = stackalloc int[width];
        for (var k = 0; k < width; k++)
        {
            offsets[k] = taps.Index[(y * width) + k] * rowLength;
            weights[k] = taps.Weight[(y * width) + k];
        }

        if (output.Length < rowLength || intermediate.Length < (taps.Source * rowLength))
        {
            throw new ArgumentException("The output row or the intermediate rows are shorter than the taps need.");
        }

        var lanes = Vector<int>.Count;
        var x = 0;
        if (Vector.IsHardwareAccelerated)
        {
            ref var rows = ref MemoryMarshal.GetArrayDataReference(intermediate);
            ref var target = ref MemoryMarshal.GetReference(output);
            var round = new Vector<int>(1 << (VerticalShift - 1));
            var max = new Vector<int>(255);
            for (; x <= rowLength - (4 * lanes); x += 4 * lanes)
            {
                Vector<int> a = Vector<int>.Zero, b = Vector<int>.Zero, c = Vector<int>.Zero, d = Vector<int>.Zero;
                for (var k = 0; k < width; k++)
                {
                    ref var at = ref Unsafe.Add(ref rows, offsets[k] + x);
                    var w = weights[k];
                    Vector.Widen(Vector.LoadUnsafe(ref at), out var first, out var second);
                    Vector.Widen(Vector.LoadUnsafe(ref at, (nuint)(2 * lanes)), out var third, out var fourth);
                    a += Vector.AsVectorInt32(first) * w;
                    b += Vector.AsVectorInt32(second) * w;
                    c += Vector.AsVectorInt32(third) * w;
                    d += Vector.AsVectorInt32(fourth) * w;
                }

                var low = Vector.Narrow(ToByteRange(a, round, max), ToByteRange(b, round, max));
                var high = Vector.Narrow(ToByteRange(c, round, max), ToByteRange(d, round, max));
                Vector.Narrow(low, high).StoreUnsafe(ref target, (nuint)x);
            }
        }

        for (; x < rowLength; x++)
        {
            var acc = 0;
            for (var k = 0; k < width; k++)
            {
                acc += intermediate[offsets[k] + x] * weights[k];
            }

            output[x] = (byte)Math.Clamp((acc + (1 << (VerticalShift - 1))) >> VerticalShift, 0, 255);
        }
    }

    /// <summary>The scalar loop's rounding and clamping, lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<uint> ToByteRange(Vector<int> acc, Vector<int> round, Vector<int> max) =>
        Vector.AsVectorUInt32(Vector.Min(Vector.Max(Vector.ShiftRightArithmetic(acc + round, VerticalShift), Vector<int>.Zero), max));

    /// <summary>Per output pixel along one axis, the same number of (source index, fixed-point weight) pairs; unused pairs weigh 0.</summary>
    /// <param name="Source">Source pixels along the axis; every index is below it.</param>
    /// <param name="Outputs">Output pixels along the axis.</param>
    /// <param name="Width">Pairs per output pixel.</param>
    /// <param name="Index">Source index of each pair, output by output.</param>
    /// <param name="Weight">Weight of each pair (14-bit fixed point; each output's sum exactly 1 &lt;&lt; 14).</param>
    internal sealed record Taps(int Source, int Outputs, int Width, int[] Index, int[] Weight)
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int), Taps> Known = new();

        /// <summary>The taps from <paramref name="source"/> pixels to <paramref name="target"/> pixels, computed once per pair of sizes (a few sizes recur).</summary>
        public static Taps For(int source, int target) =>
            Known.Count < 256 ? Known.GetOrAdd((source, target), static k => Compute(k.Item1, k.Item2)) : Known.TryGetValue((source, target), out var t) ? t : Compute(source, target);

        internal static Taps Compute(int source, int target)
        {
            if (source == target)
            {
                return new Taps(source, target, 1, Enumerable.Range(0, target).ToArray(), Enumerable.Repeat(1 << WeightBits, target).ToArray());
            }

            var scale = (double)source / target;
            var stretch = Math.Max(1.0, scale);
            var support = 2 * stretch;
            var pairs = new List<(int Index, double Weight)>[target];
            var width = 1;
            for (var o = 0; o < target; o++)
            {
                var center = (o + 0.5) * scale;
                var first = (int)Math.Floor(center - support - 0.5);
                var last = (int)Math.Ceiling(center + support - 0.5);
                var merged = new SortedDictionary<int, double>();
                for (var i = first; i <= last; i++)
                {
                    var w = Mitchell((i + 0.5 - center) / stretch);
                    if (w != 0)
                    {
                        var at = Math.Clamp(i, 0, source - 1);
                        merged[at] = merged.GetValueOrDefault(at) + w;
                    }
                }

                pairs[o] = merged.Select(p => (p.Key, p.Value)).ToList();
                width = Math.Max(width, pairs[o].Count);
            }

            var index = new int[target * width];
            var weight = new int[target * width];
            for (var o = 0; o < target; o++)
            {
                var list = pairs[o];
                var sum = list.Sum(p => p.Weight);
                var total = 0;
                var largest = 0;
                for (var k = 0; k < list.Count; k++)
                {
                    var w = (int)Math.Round(list[k].Weight / sum * (1 << WeightBits), MidpointRounding.AwayFromZero);
                    index[(o * width) + k] = list[k].Index;
                    weight[(o * width) + k] = w;
                    total += w;
                    if (w > weight[(o * width) + largest])
                    {
                        largest = k;
                    }
                }

                // The weights sum to exactly one in fixed point, so flat areas stay exactly flat.
                weight[(o * width) + largest] += (1 << WeightBits) - total;
                for (var k = list.Count; k < width; k++)
                {
                    index[(o * width) + k] = list[0].Index;
                }
            }

            return new Taps(source, target, width, index, weight);
        }
    }
}
