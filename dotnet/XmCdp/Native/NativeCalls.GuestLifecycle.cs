using System;

namespace XmCdp.Native
{
    /// <summary>The guest lifecycle of the Guest REST API (v2.1): create with extensions, update, delete.</summary>
    internal static unsafe partial class NativeCalls
    {
        internal static int GuestCreate(ulong client, string guestJson, string extensionsJson, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestJson) + MaxBytes(extensionsJson));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_create(client, p.Add(guestJson), p.Add(extensionsJson), budgetMs,
                    (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestUpdate(ulong client, string guestRef, string guestJson, bool replace, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestRef) + MaxBytes(guestJson));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_update(client, p.Add(guestRef), p.Add(guestJson), Flag(replace), budgetMs,
                    (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestDelete(ulong client, string guestRef, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestRef));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_delete(client, p.Add(guestRef), budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }
    }
}
