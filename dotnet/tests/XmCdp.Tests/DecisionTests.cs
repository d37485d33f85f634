using System;
using System.Diagnostics;
using System.Threading;
using NUnit.Framework;
using XmCdp.Decisions;
using XmCdp.Native;
using XmCdp.TestSupport;

namespace XmCdp.Tests
{
    /// <summary>Decisions through the real native library against xmcdp-emulator's default flows.</summary>
    [TestFixture]
    public class DecisionTests
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

        private CdpClient NewClient(int? breakerThreshold = null, int? cooldownMs = null) => new CdpClient(new CdpSettings
        {
            ClientKey = "ck_test",
            PointOfSale = "myretailsite/ireland",
            TargetUrl = _emulator.BaseUrl,
            Currency = "EUR",
            BreakerFailureThreshold = breakerThreshold,
            BreakerCooldownMs = cooldownMs,
        });

        private DecisionRequest For(string friendlyId, string bid) => new DecisionRequest(friendlyId) { BrowserId = bid, Channel = "WEB", Language = "EN" };

        [Test]
        public void Decide_DefaultFlow_ReturnsTheFlowResponseForTheVisitorsGuest()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var guestRef = client.GuestRefFor(bid, TimeSpan.FromSeconds(5));
                var r = client.Decide(For("home_page_banner", bid), TimeSpan.FromSeconds(5));
                Assert.That(r.Outcome, Is.EqualTo(DecisionOutcome.Ok), r + " " + r.Message);
                Assert.That(r.Json, Is.StringContaining("\"variantId\":\"banner-"));
                Assert.That(r.Json, Is.StringContaining("\"guestRef\":\"" + guestRef + "\""));
                Assert.That(r.Prefetched, Is.False);
                Assert.That(r.Elapsed, Is.GreaterThan(TimeSpan.Zero));
            }
        }

        [Test]
        public void Decide_Experiment_ServesOneOfItsVariants()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var r = client.Decide(For("hero_experiment", bid), TimeSpan.FromSeconds(5));
                Assert.That(r.IsOk, Is.True, r + " " + r.Message);
                Assert.That(r.Json, Is.EqualTo("{\"variantId\":\"hero-a\"}").Or.EqualTo("{\"variantId\":\"hero-b\"}"));
            }
        }

        [Test]
        public void Decide_UnknownFlow_IsFlowNotFoundWithTheFallbackNotAnException()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var r = client.Decide(For("no_such_flow", bid), TimeSpan.FromSeconds(5));
                Assert.That(r.Outcome, Is.EqualTo(DecisionOutcome.FlowNotFound), r.ToString());
                Assert.That(r.Json, Is.Null);
                Assert.That(r.JsonOr("fallback"), Is.EqualTo("fallback"));
                Assert.That(r.Message, Is.Not.Null.And.Not.Empty);
            }
        }

        [Test]
        public void BeginDecide_Prefetch_IsReadyLaterAndWaitReturnsTheSameAnswerEveryTime()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var ticket = client.BeginDecide(For("home_page_banner", bid));
                var sw = Stopwatch.StartNew();
                while (!ticket.IsReady && sw.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(5);
                Assert.That(ticket.IsReady, Is.True);
                var r = ticket.Wait(TimeSpan.FromMilliseconds(1));
                Assert.That(r.IsOk, Is.True, r + " " + r.Message);
                Assert.That(r.Prefetched, Is.True);
                Assert.That(r.Json, Is.StringContaining("banner-"));
                Assert.That(ticket.Wait(TimeSpan.FromSeconds(1)), Is.SameAs(r), "a ticket is claimed once; the wrapper keeps the answer");
            }
        }

        [Test]
        public void BeginDecide_BadRequest_GivesAnAnsweredTicketInsteadOfThrowing()
        {
            using (var client = NewClient())
            {
                var ticket = client.BeginDecide(new DecisionRequest(null));
                Assert.That(ticket.IsReady, Is.True);
                Assert.That(ticket.Wait(TimeSpan.FromSeconds(1)).Status, Is.EqualTo(CdpStatus.MissingFriendlyId));
            }
        }

        [Test]
        public void Decide_SlowCdp_TimesOutWithinTheBudget()
        {
            var bid = _emulator.CreateBrowserId();
            _emulator.SetFaults("{\"routes\":{\"callflows\":{\"latency_ms\":2000}}}");
            using (var client = NewClient())
            {
                var sw = Stopwatch.StartNew();
                var r = client.Decide(For("home_page_banner", bid), TimeSpan.FromMilliseconds(150));
                sw.Stop();
                Assert.That(r.Outcome, Is.EqualTo(DecisionOutcome.Timeout), r + " " + r.Message);
                Assert.That(sw.ElapsedMilliseconds, Is.LessThan(1000), "the budget was not honoured");
            }
        }

        [Test]
        public void Decide_CdpDown_OpensTheBreakerWhichThenFailsFast()
        {
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient(breakerThreshold: 2, cooldownMs: 60000))
            {
                _emulator.SetFaults("{\"outage\":true}");
                for (int i = 0; i < 2; i++)
                {
                    var failed = client.Decide(For("home_page_banner", bid), TimeSpan.FromSeconds(2));
                    Assert.That(failed.IsOk, Is.False, failed.ToString());
                    Assert.That(failed.Outcome, Is.Not.EqualTo(DecisionOutcome.CircuitOpen), "opened too early: " + failed);
                }
                var sw = Stopwatch.StartNew();
                var open = client.Decide(For("home_page_banner", bid), TimeSpan.FromSeconds(2));
                sw.Stop();
                Assert.That(open.Outcome, Is.EqualTo(DecisionOutcome.CircuitOpen), open + " " + open.Message);
                Assert.That(sw.ElapsedMilliseconds, Is.LessThan(200), "an open breaker must not wait");

                // A prefetch against an open breaker still yields a ticket, answered CircuitOpen.
                var t = client.BeginDecide(For("home_page_banner", bid));
                Assert.That(t.Wait(TimeSpan.FromSeconds(1)).Outcome, Is.EqualTo(DecisionOutcome.CircuitOpen));
            }
        }

        [Test]
        public void Decide_AfterDispose_ReportsShutDownInsteadOfThrowing()
        {
            var client = NewClient();
            client.Dispose();
            var r = client.Decide(For("home_page_banner", "b-1"), TimeSpan.FromMilliseconds(50));
            Assert.That(r.Status, Is.EqualTo(CdpStatus.ShutDown));
            Assert.That(r.Outcome, Is.EqualTo(DecisionOutcome.Failed));
            Assert.That(client.BeginDecide(For("home_page_banner", "b-1")).Wait(TimeSpan.Zero).Status, Is.EqualTo(CdpStatus.ShutDown));
        }

        [Test]
        public void Decide_LargeAnswer_ComesBackThroughTheHeldResult()
        {
            // params_echo returns the parameters: a 20 KB parameter makes the answer larger than the 8 KB buffer.
            var bid = _emulator.CreateBrowserId();
            using (var client = NewClient())
            {
                var req = For("params_echo", bid);
                var big = new string('x', 20000);
                req.Params.Set("x", big);
                var r = client.Decide(req, TimeSpan.FromSeconds(5));
                Assert.That(r.IsOk, Is.True, r + " " + r.Message);
                Assert.That(r.Json, Is.StringContaining(big));
            }
        }
    }
}
