using System;
using XmCdp.Events;
using XmCdp.Native;

namespace XmCdp.Guests
{
    /// <summary>
    /// The authenticated Guest REST API (v2.1) of one client: guest lookup and data extensions. Every call blocks
    /// for at most its budget (<see cref="TimeSpan.Zero"/> = guestApiTimeoutMs) and returns CDP's JSON answer; a
    /// failure throws <see cref="XmCdpException"/> whose <see cref="XmCdpException.Status"/> says why (NotFound,
    /// Unauthorized, InvalidArgument, ServerError, Timeout, MissingSetting when no API token is configured...).
    /// Not for the rendering path: use it from forms, controllers and scheduled jobs.
    /// </summary>
    public sealed class CdpGuests
    {
        private readonly CdpClient _client;

        internal CdpGuests(CdpClient client)
        {
            _client = client;
        }

        /// <summary>Guests with this e-mail address (a search collection; each item's href ends with the guest ref).</summary>
        public string FindByEmail(string email, TimeSpan budget = default(TimeSpan))
        {
            Require(email, nameof(email));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestFind(lease.Id, email, null, null, NativeCalls.BudgetMs(budget), out json), json, "finding guests");
        }

        /// <summary>Guests with this identifier (e.g. provider "email", or your own provider name).</summary>
        public string FindByIdentifier(string provider, string id, TimeSpan budget = default(TimeSpan))
        {
            Require(provider, nameof(provider));
            Require(id, nameof(id));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestFind(lease.Id, null, provider, id, NativeCalls.BudgetMs(budget), out json), json, "finding guests");
        }

        /// <summary>One guest; <paramref name="expand"/> includes its data extensions.</summary>
        public string Get(string guestRef, bool expand = false, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestGet(lease.Id, guestRef, expand, NativeCalls.BudgetMs(budget), out json), json, "reading a guest");
        }

        /// <summary>Creates data extension <paramref name="name"/> ("ext", "ext1" … "ext5") from flat key/values.</summary>
        public string CreateExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return Write(NativeCalls.ExtensionWrite.Create, "creating a guest data extension", guestRef, name, data, budget);
        }

        /// <summary>Replaces every key/value of data extension <paramref name="name"/>.</summary>
        public string PutExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return Write(NativeCalls.ExtensionWrite.Put, "replacing a guest data extension", guestRef, name, data, budget);
        }

        /// <summary>Updates only the given keys of data extension <paramref name="name"/>.</summary>
        public string PatchExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return Write(NativeCalls.ExtensionWrite.Patch, "updating a guest data extension", guestRef, name, data, budget);
        }

        public string GetExtension(string guestRef, string name, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionGet(lease.Id, guestRef, name, NativeCalls.BudgetMs(budget), out json), json,
                    "reading a guest data extension");
        }

        /// <summary>The guest's data extensions; <paramref name="expand"/> includes their key/values.</summary>
        public string ListExtensions(string guestRef, bool expand = false, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionList(lease.Id, guestRef, expand, NativeCalls.BudgetMs(budget), out json), json,
                    "listing guest data extensions");
        }

        public string DeleteExtension(string guestRef, string name, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionDelete(lease.Id, guestRef, name, NativeCalls.BudgetMs(budget), out json), json,
                    "deleting a guest data extension");
        }

        /// <summary>Removes <paramref name="fields"/> from data extension <paramref name="name"/> (none: empties it, keeps it).</summary>
        public string DeleteExtensionFields(string guestRef, string name, string[] fields, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionDeleteFields(lease.Id, guestRef, name, fields ?? new string[0], NativeCalls.BudgetMs(budget), out json),
                    json, "deleting guest data extension fields");
        }

        private string Write(NativeCalls.ExtensionWrite write, string operation, string guestRef, string name, CdpExtensionData data, TimeSpan budget)
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            if (data == null) throw new ArgumentNullException(nameof(data));
            var dataJson = data.ToJsonOrNull() ?? "{}";
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionWrite(lease.Id, write, guestRef, name, dataJson, NativeCalls.BudgetMs(budget), out json), json, operation);
        }

        /// <summary>The answer, or <see cref="XmCdpException"/> carrying the status (read while the lease is held: same thread's last error).</summary>
        private static string Checked(int status, string json, string operation)
        {
            NativeCalls.Check(status, operation);
            return json;
        }

        private static void Require(string value, string name)
        {
            if (value == null) throw new ArgumentNullException(name);
        }
    }
}
