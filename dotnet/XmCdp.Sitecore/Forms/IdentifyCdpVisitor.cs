using Sitecore.ExperienceForms.Models;
using XmCdp.Events;

namespace XmCdp.Sitecore.Forms
{
    /// <summary>
    /// Submit action "Identify visitor in CDP": an IDENTITY event on the visitor's browser id, so CDP merges the
    /// anonymous guest into the known one. Parameters: <c>{"emailField":"Email","firstNameField":"FirstName",
    /// "lastNameField":"LastName","identifierField":"CustomerId","identifierProvider":"CRM"}</c>; only emailField is
    /// required. Without identifierField the e-mail is the identifier (provider "email", or identifierProvider).
    /// </summary>
    public class IdentifyCdpVisitor : CdpSubmitAction
    {
        public IdentifyCdpVisitor(ISubmitActionData submitActionData) : base(submitActionData)
        {
        }

        protected override string ActionName => "Identify visitor in CDP";

        protected override void Run(CdpFormParameters parameters, CdpFormFields fields, CdpContext cdp)
        {
            var emailField = parameters.FieldName("emailField", fields, true);
            var firstField = parameters.FieldName("firstNameField", fields, false);
            var lastField = parameters.FieldName("lastNameField", fields, false);
            var idField = parameters.FieldName("identifierField", fields, false);
            var provider = parameters.Text("identifierProvider") ?? (idField == null ? "email" : null);
            if (idField != null && provider == null && parameters.Error == null)
            {
                LogError("refused its parameters: 'identifierProvider' is required with 'identifierField'. Nothing was sent to CDP.");
                return;
            }
            if (Refused(parameters) || Untracked(cdp)) return;

            var email = fields.Get(emailField);
            if (email == null)
            {
                // The form's own validation decides whether the field is required; an empty one identifies nobody.
                LogWarn("skipped: the e-mail field was empty.");
                return;
            }
            var id = idField != null ? fields.Get(idField) ?? email : email;
            var identity = new IdentityEvent
            {
                Email = email,
                FirstName = fields.Get(firstField),
                LastName = fields.Get(lastField),
            };
            identity.Identifiers.Add(new CdpIdentifier(provider, id));
            var status = cdp.Identify(identity);
            if (status != CdpStatus.Ok)
                LogWarn("could not queue the IDENTITY event: status " + (int)status + " (" + status + ")"
                    + (status == CdpStatus.InvalidEmail ? ": the e-mail field does not hold an e-mail address" : ""));
        }
    }
}
