using System;
using System.Text;

namespace XmCdp.Native
{
    /// <summary>The client itself: create, shut down, delete, stats; the library version and status names.</summary>
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

        /// <summary>The native name of a status code (e.g. "INVALID_UTF8"), "UNKNOWN" for a number that is not one.</summary>
        internal static string StatusName(uint status)
        {
            var s = Interop.xmcdp_status_name(status);
            return s.ptr == IntPtr.Zero ? null : Encoding.UTF8.GetString((byte*)s.ptr, checked((int)s.len));
        }

        internal static int Shutdown(ulong client, uint deadlineMs) => (int)Interop.xmcdp_client_shutdown(client, deadlineMs);

        internal static int Delete(ulong client) => (int)Interop.xmcdp_client_delete(client);

        internal static int Stats(ulong client, out string json)
        {
            return ReadString((IntPtr b, ulong c, out ulong l) => (int)Interop.xmcdp_client_stats(client, b, c, out l), out json);
        }

        /// <summary>The native parser's settings and their JSON types (<c>xmcdp_settings_schema</c>), as JSON.</summary>
        internal static int SettingsSchema(out string json)
        {
            return ReadString((IntPtr b, ulong c, out ulong l) => (int)Interop.xmcdp_settings_schema(b, c, out l), out json);
        }
    }
}
