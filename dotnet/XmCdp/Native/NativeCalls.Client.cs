using System;

namespace XmCdp.Native
{
    /// <summary>The client itself: create, shut down, delete, stats, library version.</summary>
    internal static unsafe partial class NativeCalls
    {
        internal static int ClientNew(string settingsJson, out ulong client)
        {
            var buf = RentBuffer(MaxBytes(settingsJson) + 1);
            fixed (byte* b = buf)
            {
                var p = new Utf8Packer(b, buf.Length);
                return (int)Interop.xmcdp_client_new(p.Add(settingsJson), out client);
            }
        }

        internal static uint Version() => Interop.xmcdp_version();

        internal static int Shutdown(ulong client, uint deadlineMs) => (int)Interop.xmcdp_client_shutdown(client, deadlineMs);

        internal static int Delete(ulong client) => (int)Interop.xmcdp_client_delete(client);

        internal static int Stats(ulong client, out string json)
        {
            return ReadString((IntPtr b, ulong c, out ulong l) => (int)Interop.xmcdp_client_stats(client, b, c, out l), out json);
        }
    }
}
