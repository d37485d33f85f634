<%@ Page Language="C#" AutoEventWireup="false" EnableViewState="false" Inherits="XmCdp.Sitecore.Admin.XmCdpAdminPage, XmCdp.Sitecore" %>
