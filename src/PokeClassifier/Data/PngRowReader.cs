using System.Buffers.Binary;
using System.IO.Compression;

namespace PokeClassifier.Data;

/// <summary>
/// Streams the rows of a non-interlaced PNG as opaque RGB (alpha flattened onto white), one row at a time, so that a huge PNG can be
/// reduced while it is decoded. Skia's PNG codec offers no row-by-row decoding, hence this small reader.
/// </summary>
internal sealed class PngRowReader : IDisposable
{
    private readonly ZLibStream _inflater;
    private readonly int _bitDepth;
    private readonly int _colorType;
    private readonly int _bytesPerPixel;
    private readonly int _stride;
    private readonly byte[] _palette = new byte[256 * 4];
    private readonly int[]? _colorKey;
    private byte[] _previous;
    private byte[] _current;

    public PngRowReader(byte[] png)
    {
        var chunks = new List<(int Offset, int Length)>();
        var pos = 8;
        var paletteCount = 0;
        for (var i = 0; i < 256; i++)
        {
            _palette[(i * 4) + 3] = 255;
        }

        while (pos + 8 <= png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            var type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = pos + 8;
            if (length < 0 || data + length > png.Length)
            {
                throw new InvalidDataException("chunk runs past the end of the file");
            }

            switch (type)
            {
                case "IHDR":
                    Width = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(data));
                    Height = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(data + 4));
                    _bitDepth = png[data + 8];
                    _colorType = png[data + 9];
                    if (png[data + 12] != 0)
                    {
                        throw new NotSupportedException("interlaced PNG");
                    }

                    break;
                case "PLTE":
                    paletteCount = Math.Min(256, length / 3);
                    for (var i = 0; i < paletteCount; i++)
                    {
                        _palette[i * 4] = png[data + (i * 3)];
                        _palette[(i * 4) + 1] = png[data + (i * 3) + 1];
                        _palette[(i * 4) + 2] = png[data + (i * 3) + 2];
                    }

                    break;
                case "tRNS":
                    if (_colorType == 3)
                    {
                        for (var i = 0; i < Math.Min(length, 256); i++)
                        {
                            _palette[(i * 4) + 3] = png[data + i];
                        }
                    }
                    else if (_colorType == 0 && length >= 2)
                    {
                        _colorKey = [BinaryPrimitives.ReadUInt16BigEndian(png.AsSpan(data))];
                    }
                    else if (_colorType == 2 && length >= 6)
                    {
                        _colorKey = [BinaryPrimitives.ReadUInt16BigEndian(png.AsSpan(data)), BinaryPrimitives.ReadUInt16BigEndian(png.AsSpan(data + 2)), BinaryPrimitives.ReadUInt16BigEndian(png.AsSpan(data + 4))];
                    }

                    break;
                case "IDAT":
                    chunks.Add((data, length));
                    break;
            }

            pos = data + length + 4;
            if (type == "IEND")
            {
                break;
            }
        }

        var channels = _colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new NotSupportedException($"PNG colour type {_colorType}") };
        if (Width <= 0 || Height <= 0 || chunks.Count == 0)
        {
            throw new InvalidDataException("missing IHDR or IDAT");
        }

        var bitsPerPixel = channels * _bitDepth;
        _bytesPerPixel = Math.Max(1, bitsPerPixel / 8);
        _stride = (int)(((long)Width * bitsPerPixel + 7) / 8);
        _previous = new byte[_stride];
        _current = new byte[_stride];
        _inflater = new ZLibStream(new ChunkStream(png, chunks), CompressionMode.Decompress);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Reads the next row as RGB bytes (3 per pixel) into <paramref name="rgb"/>.</summary>
    /// <exception cref="EndOfStreamException">The data ends early.</exception>
    public void ReadRow(Span<byte> rgb)
    {
        Span<byte> filter = stackalloc byte[1];
        ReadExactly(filter);
        ReadExactly(_current);
        Unfilter(filter[0]);
        for (var x = 0; x < Width; x++)
        {
            int r, g, b, a;
            switch (_colorType)
            {
                case 0:
                    {
                        var raw = Sample(x, 0, 1);
                        r = g = b = Scale(raw);
                        a = _colorKey is not null && raw == _colorKey[0] ? 0 : 255;
                        break;
                    }

                case 2:
                    {
                        int rr = Sample(x, 0, 3), gg = Sample(x, 1, 3), bb = Sample(x, 2, 3);
                        (r, g, b) = (Scale(rr), Scale(gg), Scale(bb));
                        a = _colorKey is not null && rr == _colorKey[0] && gg == _colorKey[1] && bb == _colorKey[2] ? 0 : 255;
                        break;
                    }

                case 3:
                    {
                        var index = Sample(x, 0, 1) * 4;
                        (r, g, b, a) = (_palette[index], _palette[index + 1], _palette[index + 2], _palette[index + 3]);
                        break;
                    }

                case 4:
                    r = g = b = Scale(Sample(x, 0, 2));
                    a = Scale(Sample(x, 1, 2));
                    break;
                default:
                    (r, g, b, a) = (Scale(Sample(x, 0, 4)), Scale(Sample(x, 1, 4)), Scale(Sample(x, 2, 4)), Scale(Sample(x, 3, 4)));
                    break;
            }

            // Flatten onto white now: averaging flattened pixels equals flattening the average of premultiplied ones.
            var inv = 255 - a;
            rgb[x * 3] = (byte)(((r * a) + (255 * inv) + 127) / 255);
            rgb[(x * 3) + 1] = (byte)(((g * a) + (255 * inv) + 127) / 255);
            rgb[(x * 3) + 2] = (byte)(((b * a) + (255 * inv) + 127) / 255);
        }

        (_previous, _current) = (_current, _previous);
    }

    public void Dispose() => _inflater.Dispose();

    private int Sample(int x, int channel, int channels)
    {
        if (_bitDepth == 8)
        {
            return _current[(x * channels) + channel];
        }

        if (_bitDepth == 16)
        {
            return BinaryPrimitives.ReadUInt16BigEndian(_current.AsSpan(((x * channels) + channel) * 2));
        }

        // 1, 2 or 4 bits, one channel (grey or palette index), packed from the high bits.
        var bit = x * _bitDepth;
        return (_current[bit >> 3] >> (8 - _bitDepth - (bit & 7))) & ((1 << _bitDepth) - 1);
    }

    private int Scale(int value) => _bitDepth switch
    {
        16 => value >> 8,
        8 => value,
        _ when _colorType == 3 => value,
        _ => value * 255 / ((1 << _bitDepth) - 1),
    };

    private void ReadExactly(Span<byte> buffer)
    {
        try
        {
            _inflater.ReadExactly(buffer);
        }
        catch (InvalidDataException e)
        {
            throw new EndOfStreamException("damaged compressed data", e);
        }
    }

    private void Unfilter(byte filter)
    {
        var cur = _current;
        var prev = _previous;
        var bpp = _bytesPerPixel;
        switch (filter)
        {
            case 0:
                break;
            case 1:
                for (var i = bpp; i < cur.Length; i++)
                {
                    cur[i] += cur[i - bpp];
                }

                break;
            case 2:
                for (var i = 0; i < cur.Length; i++)
                {
                    cur[i] += prev[i];
                }

                break;
            case 3:
                for (var i = 0; i < cur.Length; i++)
                {
                    var left = i >= bpp ? cur[i - bpp] : 0;
                    cur[i] += (byte)((left + prev[i]) / 2);
                }

                break;
            case 4:
                for (var i = 0; i < cur.Length; i++)
                {
                    int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    cur[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }

                break;
            default:
                throw new InvalidDataException($"unknown PNG row filter {filter}");
        }
    }

    /// <summary>The IDAT chunks' payloads as one stream.</summary>
    private sealed class ChunkStream(byte[] data, List<(int Offset, int Length)> chunks) : Stream
    {
        private int _chunk;
        private int _offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_chunk < chunks.Count && _offset >= chunks[_chunk].Length)
            {
                _chunk++;
                _offset = 0;
            }

            if (_chunk >= chunks.Count)
            {
                return 0;
            }

            var n = Math.Min(buffer.Length, chunks[_chunk].Length - _offset);
            data.AsSpan(chunks[_chunk].Offset + _offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
