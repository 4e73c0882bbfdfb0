package api

func (s *Server) ticketRoutes() {}

func (s *Server) registerTicketJobs() {}
