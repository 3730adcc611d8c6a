using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PokeClassifier.Training.Custom.Callbacks;

/// <summary>
/// Writes a checkpoint after every epoch (weights, optimizer moments, the epoch, the history and the other callbacks' state;
/// temporary file then rename, so a crash leaves the previous checkpoint whole) and, when resuming, loads it before the first
/// epoch so the run goes on from the next one exactly as if it had not been interrupted (the shuffling and augmentation of each
/// epoch are drawn from the seed and the epoch number, not from a generator's history).
/// </summary>
internal sealed class CheckpointCallback(string path, bool resume, string fingerprint, IReadOnlyList<ICheckpointedCallback> callbacks) : ITrainingCallback
{
    private const string Magic = "pokeclassifier-checkpoint-v1";

    /// <summary>The epoch the loaded checkpoint ended with; 0 when training starts afresh.</summary>
    public int ResumedFrom { get; private set; }

    public void OnTrainingStarting(TrainingState state)
    {
        if (!resume || !File.Exists(path))
        {
            return;
        }

        using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        if (reader.ReadString() != Magic)
        {
            throw new InvalidDataException($"'{path}' is not a training checkpoint.");
        }

        var saved = reader.ReadString();
        if (!string.Equals(saved, fingerprint, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"The checkpoint '{path}' was written by another training run (model, data or options differ); delete it or train without resuming.");
        }

        state.Epoch = reader.ReadInt32();
        state.Step = reader.ReadInt64();
        state.LearningRateFactor = reader.ReadDouble();
        state.Load(JsonSerializer.Deserialize<EpochRecord[]>(reader.ReadString()) ?? []);
        var weights = ModelSnapshot.Read(reader) ?? throw new InvalidDataException($"The checkpoint '{path}' holds no weights.");
        try
        {
            ModelSnapshot.Restore(state.Network(), weights);
        }
        finally
        {
            ModelSnapshot.Dispose(weights);
        }

        state.Adam().Read(reader);
        var count = reader.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            var callback = callbacks.FirstOrDefault(c => c.Name == name) ?? throw new InvalidDataException($"The checkpoint '{path}' holds the state of '{name}', which this run does not have.");
            callback.Read(reader);
        }

        ResumedFrom = state.Epoch;
    }

    public void OnEpochEnded(TrainingState state)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp"));
        try
        {
            using (var writer = new BinaryWriter(File.Create(temp), Encoding.UTF8))
            {
                writer.Write(Magic);
                writer.Write(fingerprint);
                writer.Write(state.Epoch);
                writer.Write(state.Step);
                writer.Write(state.LearningRateFactor);
                writer.Write(JsonSerializer.Serialize(state.History.ToArray()));
                var weights = ModelSnapshot.Take(state.Network());
                try
                {
                    ModelSnapshot.Write(writer, weights);
                }
                finally
                {
                    ModelSnapshot.Dispose(weights);
                }

                state.Adam().Write(writer);
                writer.Write(callbacks.Count);
                foreach (var callback in callbacks)
                {
                    writer.Write(callback.Name);
                    callback.Write(writer);
                }
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
