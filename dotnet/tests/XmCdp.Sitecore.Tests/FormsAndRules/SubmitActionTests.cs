using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;
using Sitecore.ExperienceForms.Models;
using Sitecore.ExperienceForms.Processing;
using XmCdp.Sitecore.Forms;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests.FormsAndRules
{
    /// <summary>The submit actions against the recording client: what they queue, what they refuse, and that they never fail the form.</summary>
    [TestFixture]
    public class SubmitActionTests
    {
        private RecordingClient _client;

        public class TextField : IViewModel
        {
            public string ItemId { get; set; }
            public string Name { get; set; }
            public string TemplateId { get; set; }
            public string Value { get; set; }
        }

        public class ListField : IViewModel
        {
            public string ItemId { get; set; }
            public string Name { get; set; }
            public string TemplateId { get; set; }
            public List<string> Value { get; set; }
        }

        public class CheckboxField : IViewModel
        {
            public string ItemId { get; set; }
            public string Name { get; set; }
            public string TemplateId { get; set; }
            public bool Value { get; set; }
        }

        public class NumberField : IViewModel
        {
            public string ItemId { get; set; }
            public string Name { get; set; }
            public string TemplateId { get; set; }
            public double? Value { get; set; }
        }

        [SetUp]
        public void SetUp()
        {
            Log.Clear();
            _client = new RecordingClient("ck_test");
            // No fake HttpContext here: creating one switches the test domain's configuration to System.Web's, and
            // later fixtures would no longer read App.config. The actions' visitor seam is used instead.
            var site = new SiteBinding("website", new CdpSettings { ClientKey = "ck_test" }, _client);
            s_visitor = new CdpContext(site, "bid-1", "EN", "contact", "Mozilla/5.0");
        }

        [TearDown]
        public void TearDown() => s_visitor = null;

        private static CdpContext s_visitor;

        private sealed class Send : SendCdpEvent
        {
            public Send(ISubmitActionData d) : base(d) { }
            protected override CdpContext ResolveVisitor() => s_visitor;
        }

        private sealed class Identify : IdentifyCdpVisitor
        {
            public Identify(ISubmitActionData d) : base(d) { }
            protected override CdpContext ResolveVisitor() => s_visitor;
        }

        private sealed class Save : SaveCdpDataExtension
        {
            public Save(ISubmitActionData d) : base(d) { }
            protected override CdpContext ResolveVisitor() => s_visitor;
        }

        private static FormSubmitContext Form() => new FormSubmitContext("submit")
        {
            Fields = new List<IViewModel>
            {
                new TextField { Name = "Email", Value = " ada@example.com " },
                new TextField { Name = "Name", Value = "" },
                new ListField { Name = "Interests", Value = new List<string> { "road", "gravel" } },
                new CheckboxField { Name = "Consent", Value = true },
                new NumberField { Name = "Age", Value = 36.5 },
            },
        };

        private static bool Run(ISubmitAction action, string parameters, FormSubmitContext form = null)
        {
            return action.Execute(parameters, form ?? Form());
        }

        private static ISubmitActionData Data() => new StubSubmitActionData { SubmitActionId = Guid.NewGuid() };

        [Test]
        public void SendCdpEvent_QueuesTheEventWithTheMappedValuesOfEveryFieldKind()
        {
            Assert.That(Run(new Send(Data()), "{\"eventType\":\"NEWSLETTER_SIGNUP\",\"fields\":{\"Interests\":\"interests\",\"Consent\":\"consent\",\"Age\":\"age\",\"Name\":\"name\"}}"), Is.True);
            var e = _client.Events.Single();
            Assert.That(e.Type, Is.EqualTo("NEWSLETTER_SIGNUP"));
            Assert.That(e.BrowserId, Is.EqualTo("bid-1"));
            Assert.That(e.DataJsonOrNull(), Is.EqualTo("{\"interests\":\"road,gravel\",\"consent\":\"true\",\"age\":\"36.5\"}"), "an empty field is left out");
        }

        [Test]
        public void IdentifyCdpVisitor_QueuesIdentityWithTheEmailAsIdentifier()
        {
            Assert.That(Run(new Identify(Data()), "{\"emailField\":\"Email\"}"), Is.True);
            var id = _client.Identities.Single();
            Assert.That(id.Email, Is.EqualTo("ada@example.com"));
            Assert.That(id.Identifiers.Single().Provider, Is.EqualTo("email"));
            Assert.That(id.Identifiers.Single().Id, Is.EqualTo("ada@example.com"));
        }

        [TestCase("", "no parameters were saved for this action")]
        [TestCase("[1]", "the parameters are not a JSON object")]
        [TestCase("{\"eventType\":\"X\",\"fields\":{\"Nope\":\"x\"}}", "'fields': the form has no field named 'Nope'")]
        [TestCase("{\"eventType\":\"X\",\"fields\":{\"Email\":\"bad key\"}}", "'fields': the CDP key for field 'Email' must be letters, digits and '_'")]
        [TestCase("{\"eventType\":\"X\",\"fields\":[\"Email\"]}", "'fields' must be an object of form field name")]
        [TestCase("{\"eventType\":7}", "'eventType' must be a string")]
        [TestCase("{\"fields\":{\"Email\":\"email\"}}", "'eventType' is required")]
        public void SendCdpEvent_BadParameters_AreRefusedWithTheReasonAndTheFormSucceeds(string parameters, string reason)
        {
            Assert.That(Run(new Send(Data()), parameters), Is.True);
            Assert.That(_client.Events, Is.Empty);
            Assert.That(Log.Entries(), Has.Some.StartsWith("ERROR [Forms] XmCdp: Send CDP event refused its parameters: ").And.Contains(reason));
        }

        [TestCase("{\"fields\":{\"Email\":\"email\"},\"budgetMs\":5}", "'budgetMs' must be a whole number from 50 to 10000")]
        [TestCase("{\"extension\":\"ext6\",\"fields\":{\"Email\":\"email\"}}", "'extension' must be ext or ext1 to ext5")]
        [TestCase("{\"extension\":\"ext\"}", "'fields' (form field name → CDP key) is required")]
        public void SaveCdpDataExtension_BadParameters_AreRefused(string parameters, string reason)
        {
            Assert.That(Run(new Save(Data()), parameters), Is.True);
            Assert.That(Log.Entries(), Has.Some.StartsWith("ERROR [Forms] XmCdp: Save to a CDP data extension refused its parameters: ").And.Contains(reason));
        }

        [Test]
        public void IdentifyCdpVisitor_IdentifierFieldWithoutProvider_IsRefused()
        {
            Assert.That(Run(new Identify(Data()), "{\"emailField\":\"Email\",\"identifierField\":\"Name\"}"), Is.True);
            Assert.That(_client.Identities, Is.Empty);
            Assert.That(Log.Entries(), Has.Some.Contains("'identifierProvider' is required with 'identifierField'"));
        }

        [Test]
        public void UntrackedVisitor_NothingIsSentAndTheFormSucceeds()
        {
            s_visitor = null;
            Assert.That(Run(new Send(Data()), "{\"eventType\":\"NEWSLETTER_SIGNUP\"}"), Is.True);
            Assert.That(_client.Events, Is.Empty);
            Assert.That(Log.Entries(), Has.Some.EqualTo("INFO [Forms] XmCdp: Send CDP event: the visitor is not tracked (no consent, bot, or the site is not configured); nothing sent."));
        }

        [Test]
        public void ClientShuttingDown_TheFormSucceedsAndTheStatusIsLogged()
        {
            _client.Closed = true;
            Assert.That(Run(new Send(Data()), "{\"eventType\":\"NEWSLETTER_SIGNUP\"}"), Is.True);
            Assert.That(Log.Entries(), Has.Some.StartsWith("WARN [Forms] XmCdp: Send CDP event could not queue event 'NEWSLETTER_SIGNUP': status 41 (ShutDown)"));
        }

        [Test]
        public void TheStandInPipeline_AFalseReturnFailsTheSubmissionAndStopsTheRest()
        {
            var form = Form();
            var first = new Refusing(Data());
            var second = new Send(Data());
            StubSubmitPipeline.Run(form, new List<KeyValuePair<ISubmitAction, ISubmitActionData>>
            {
                new KeyValuePair<ISubmitAction, ISubmitActionData>(first, first.SubmitActionData),
                new KeyValuePair<ISubmitAction, ISubmitActionData>(second, new StubSubmitActionData { Parameters = "{\"eventType\":\"X\"}" }),
            });
            Assert.That(form.HasErrors, Is.True);
            Assert.That(_client.Events, Is.Empty);
        }

        private sealed class Refusing : global::Sitecore.ExperienceForms.Processing.Actions.SubmitActionBase<string>
        {
            public Refusing(ISubmitActionData data) : base(data) { }
            protected override bool TryParse(string value, out string target) { target = value ?? ""; return true; }
            protected override bool Execute(string data, FormSubmitContext formSubmitContext) => false;
        }
    }
}
