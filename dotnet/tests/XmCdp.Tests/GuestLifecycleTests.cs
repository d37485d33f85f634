using System;
using System.Collections.Generic;
using System.Net;
using System.Threading;
using NUnit.Framework;
using XmCdp.Events;
using XmCdp.Guests;
using XmCdp.Native;
using XmCdp.TestSupport;

namespace XmCdp.Tests
{
    /// <summary>Guest registration, partial update and delete through CdpGuests, the real library and the emulator.</summary>
    [TestFixture]
    public class GuestLifecycleTests
    {
        private EmulatorClient _emulator;

        [TestFixtureSetUp]
        public void FixtureSetUp()
        {
            _emulator = EmulatorClient.FromEnvironment();
            NativeLibraryLoader.EnsureLoaded();
        }

        [TearDown]
        public void ClearFaults() => _emulator.SetFaults("{}");

        private CdpClient NewClient(string token = "tok_test") => new CdpClient(new CdpSettings
        {
            ClientKey = "ck_test",
            PointOfSale = "myretailsite/ireland",
            TargetUrl = _emulator.BaseUrl,
            ApiToken = token,
        });

        private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N").Substring(0, 10);

        private static CdpGuestProfile Registration(string email, string crmId)
        {
            var p = new CdpGuestProfile
            {
                GuestType = CdpGuestTypes.Customer,
                Email = email,
                FirstName = "Ann",
                LastName = "Lee",
                DateOfBirth = new DateTime(1990, 5, 17),
                Country = "IE",
            };
            p.Identifiers.Add(new CdpIdentifier("CRM", crmId));
            return p;
        }

        [Test]
        public void Create_RegistersTheGuestWithItsExtensionInOneCall()
        {
            var email = Unique("ann") + "@example.com";
            var crm = Unique("C-");
            using (var client = NewClient())
            {
                var profile = Registration(email, crm);
                profile.Extension("ext").Set("loyaltyTier", "gold").Set("points", 10).Set("newsletter", true);
                var json = client.Guests.Create(profile, TimeSpan.FromSeconds(5));
                var guestRef = CdpGuests.RefOf(json);
                Assert.That(guestRef, Is.Not.Null.And.Not.Empty, json);

                var stored = _emulator.Guest(guestRef);
                Assert.That(stored["guestType"], Is.EqualTo("customer"));
                Assert.That(stored["firstName"], Is.EqualTo("Ann"));
                Assert.That(stored["email"], Is.EqualTo(email));
                Assert.That(stored["country"], Is.EqualTo("IE"));
                Assert.That(stored["dateOfBirth"], Is.EqualTo("1990-05-17T00:00:00.000Z"));
                Assert.That(client.Guests.FindByIdentifier("CRM", crm), Is.StringContaining(guestRef));

                var ext = client.Guests.ExtensionValues(guestRef, "ext");
                Assert.That(ext["loyaltyTier"], Is.EqualTo("gold"));
                Assert.That(ext["points"], Is.EqualTo(10L));
                Assert.That(ext["newsletter"], Is.EqualTo(true));
                Assert.That(ext.ContainsKey("href"), Is.False, "resource fields are not the caller's keys");
                Assert.That(client.Guests.ExtensionValues(guestRef, "ext3"), Is.Null, "no such extension");
            }
        }

        [Test]
        public void Update_ChangesOnlyTheGivenAttributes_AndClearRemovesOne()
        {
            using (var client = NewClient())
            {
                var guestRef = CdpGuests.RefOf(client.Guests.Create(Registration(Unique("u") + "@example.com", Unique("C-"))));
                var json = client.Guests.Update(guestRef, new CdpGuestProfile { FirstName = "Annie", City = "Dublin" }.Clear("country"));
                Assert.That(CdpGuests.RefOf(json), Is.EqualTo(guestRef));
                var stored = _emulator.Guest(guestRef);
                Assert.That(stored["firstName"], Is.EqualTo("Annie"));
                Assert.That(stored["lastName"], Is.EqualTo("Lee"), "not sent, so kept");
                Assert.That(stored["city"], Is.EqualTo("Dublin"));
                Assert.That(stored.ContainsKey("country"), Is.False, "cleared");

                client.Guests.Replace(guestRef, new CdpGuestProfile { GuestType = CdpGuestTypes.Customer, LastName = "Lee-Smith" });
                stored = _emulator.Guest(guestRef);
                Assert.That(stored.ContainsKey("firstName"), Is.False, "a replacement drops what it does not send");
                Assert.That(stored["lastName"], Is.EqualTo("Lee-Smith"));
            }
        }

        [Test]
        public void Delete_ForgetsTheGuest_AndASecondDeleteIsNotFound()
        {
            var crm = Unique("C-");
            using (var client = NewClient())
            {
                var profile = Registration(Unique("d") + "@example.com", crm);
                profile.Extension("ext1").Set("segment", "b2b");
                var guestRef = CdpGuests.RefOf(client.Guests.Create(profile));
                client.Guests.Delete(guestRef);
                Assert.That(client.Guests.FindByIdentifier("CRM", crm), Is.Not.StringContaining(guestRef));
                var e = Assert.Throws<XmCdpException>(() => client.Guests.Get(guestRef));
                Assert.That(e.Status, Is.EqualTo(CdpStatus.NotFound), e.Message);
                e = Assert.Throws<XmCdpException>(() => client.Guests.Delete(guestRef));
                Assert.That(e.Status, Is.EqualTo(CdpStatus.NotFound), e.Message);
            }
        }

        [Test]
        public void BadInput_ThrowsWithAStableStatusAndAClearMessage()
        {
            using (var client = NewClient())
            {
                var cases = new List<KeyValuePair<CdpGuestProfile, CdpStatus>>
                {
                    Case(new CdpGuestProfile { Email = "a@b.co" }, CdpStatus.InvalidField),
                    Case(new CdpGuestProfile { GuestType = "member" }, CdpStatus.InvalidField),
                    Case(new CdpGuestProfile { GuestType = "visitor", Email = "not-an-address" }, CdpStatus.InvalidEmail),
                    Case(new CdpGuestProfile { GuestType = "visitor", DateOfBirth = DateTime.UtcNow.AddYears(1) }, CdpStatus.InvalidDate),
                    Case(new CdpGuestProfile { GuestType = "visitor", Country = "ie" }, CdpStatus.InvalidField),
                };
                var bad = new CdpGuestProfile { GuestType = "visitor" };
                bad.Extension("ext9").Set("a", 1);
                cases.Add(Case(bad, CdpStatus.InvalidExt));
                foreach (var c in cases)
                {
                    var e = Assert.Throws<XmCdpException>(() => client.Guests.Create(c.Key));
                    Assert.That(e.Status, Is.EqualTo(c.Value), e.Message);
                    Assert.That(e.Message, Is.StringContaining("creating a guest"), e.Message);
                }
                var withExt = new CdpGuestProfile { FirstName = "x" };
                withExt.Extension("ext").Set("a", 1);
                Assert.Throws<ArgumentException>(() => client.Guests.Update("0f8e2d1c-1111-4222-8333-944455566677", withExt));
                Assert.Throws<ArgumentNullException>(() => client.Guests.Create(null));
                var empty = Assert.Throws<XmCdpException>(() => client.Guests.Update("0f8e2d1c-1111-4222-8333-944455566677", new CdpGuestProfile()));
                Assert.That(empty.Status, Is.EqualTo(CdpStatus.InvalidArgument), empty.Message);
            }
        }

        private static KeyValuePair<CdpGuestProfile, CdpStatus> Case(CdpGuestProfile p, CdpStatus s) => new KeyValuePair<CdpGuestProfile, CdpStatus>(p, s);

        [Test]
        public void WrongToken_IsUnauthorized_AndTheTokenNeverAppears()
        {
            using (var client = NewClient(token: "tok_WRONG_lifecycle_secret"))
            {
                var e = Assert.Throws<XmCdpException>(() => client.Guests.Create(Registration(Unique("w") + "@example.com", Unique("C-"))));
                Assert.That(e.Status, Is.EqualTo(CdpStatus.Unauthorized), e.Message);
                Assert.That(e.Message, Is.Not.StringContaining("tok_WRONG_lifecycle_secret"));
            }
        }

        [Test]
        public void Shutdown_EndsAnInFlightRegistrationWithShutDown()
        {
            _emulator.SetFaults("{\"routes\":{\"guests\":{\"latency_ms\":3000}}}");
            using (var client = NewClient())
            {
                XmCdpException failure = null;
                var worker = new Thread(() =>
                {
                    try
                    {
                        client.Guests.Create(Registration(Unique("s") + "@example.com", Unique("C-")), TimeSpan.FromSeconds(10));
                    }
                    catch (XmCdpException e)
                    {
                        failure = e;
                    }
                });
                worker.Start();
                Thread.Sleep(400);
                client.Shutdown(TimeSpan.FromMilliseconds(500));
                Assert.That(worker.Join(TimeSpan.FromSeconds(5)), Is.True, "the call ended with the shutdown, not its 10 s budget");
                Assert.That(failure, Is.Not.Null);
                Assert.That(failure.Status, Is.EqualTo(CdpStatus.ShutDown), failure.Message);
            }
        }
    }
}
