using System;

namespace XmCdp.Native
{
    /// <summary>
    /// The Guest REST API (v2.1): one method per native call, each packing its strings into the pinned per-thread
    /// buffer and reading CDP's JSON answer through <see cref="Finish"/>.
    /// </summary>
    internal static unsafe partial class NativeCalls
    {
        /// <summary>Which data-extension write a <see cref="GuestExtensionWrite"/> does.</summary>
        internal enum ExtensionWrite
        {
            Create,
            Put,
            Patch,
        }

        internal static int GuestFind(ulong client, string email, string provider, string id, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(email) + MaxBytes(provider) + MaxBytes(id));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_find(client, p.Add(email), p.Add(provider), p.Add(id), budgetMs,
                    (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestGet(ulong client, string guestRef, bool expand, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestRef));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_get(client, p.Add(guestRef), Flag(expand), budgetMs,
                    (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestExtensionWrite(ulong client, ExtensionWrite write, string guestRef, string name, string dataJson,
            uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestRef) + MaxBytes(name) + MaxBytes(dataJson));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var g = p.Add(guestRef);
                var n = p.Add(name);
                var d = p.Add(dataJson);
                ulong len;
                xmcdp_status_t status;
                switch (write)
                {
                    case ExtensionWrite.Create:
                        status = Interop.xmcdp_client_guest_extension_create(client, g, n, d, budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                        break;
                    case ExtensionWrite.Put:
                        status = Interop.xmcdp_client_guest_extension_put(client, g, n, d, budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                        break;
                    default:
                        status = Interop.xmcdp_client_guest_extension_patch(client, g, n, d, budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                        break;
                }
                return Finish((int)status, o, len, out json);
            }
        }

        internal static int GuestExtensionGet(ulong client, string guestRef, string name, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestRef) + MaxBytes(name));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_extension_get(client, p.Add(guestRef), p.Add(name), budgetMs,
                    (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestExtensionList(ulong client, string guestRef, bool expand, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestRef));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_extension_list(client, p.Add(guestRef), Flag(expand), budgetMs,
                    (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestExtensionDelete(ulong client, string guestRef, string name, uint budgetMs, out string json)
        {
            var buf = RentBuffer(1 + MaxBytes(guestRef) + MaxBytes(name));
            var outBuf = OutBuffer();
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_extension_delete(client, p.Add(guestRef), p.Add(name), budgetMs,
                    (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        internal static int GuestExtensionDeleteFields(ulong client, string guestRef, string name, string[] fields, uint budgetMs, out string json)
        {
            json = null;
            if (fields.Length > MaxItems) return (int)CdpStatus.TooLarge;
            int need = 1 + MaxBytes(guestRef) + MaxBytes(name);
            foreach (var f in fields) need += MaxBytes(f);
            var buf = RentBuffer(need);
            var outBuf = OutBuffer();
            xmcdp_str_t* arr = stackalloc xmcdp_str_t[Math.Max(fields.Length, 1)];
            fixed (byte* b = buf)
            fixed (byte* o = outBuf)
            {
                var p = new Utf8Packer(b, buf.Length);
                var g = p.Add(guestRef);
                var n = p.Add(name);
                for (int i = 0; i < fields.Length; i++) arr[i] = p.Add(fields[i] ?? string.Empty);
                ulong len;
                int status = (int)Interop.xmcdp_client_guest_extension_delete_fields(client, g, n, fields.Length == 0 ? IntPtr.Zero : (IntPtr)arr,
                    (ulong)fields.Length, budgetMs, (IntPtr)o, (ulong)outBuf.Length, out len);
                return Finish(status, o, len, out json);
            }
        }

        private static byte Flag(bool value) => value ? (byte)1 : (byte)0;
    }
}
